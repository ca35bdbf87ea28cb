//! The `rivvi` binary: a thin shell over [`rivvi_server::cli`].

fn main() -> std::process::ExitCode {
    rivvi_server::cli::main()
}
