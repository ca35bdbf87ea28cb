//! The `rivvi` binary: a thin shell over [`rivvi_server::cli`].

// Behind a feature so that the choice stays measurable side by side (docs/benchmarks.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rivvi_server::cli::main()
}
