//! The shape of the source tree (issue 9): one module style everywhere, so a newcomer finds a
//! module's children in one place.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The workspace root and every `.rs` file of the crates' and the migrations' sources.
fn source_files() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap() {
        rust_files(&crate_dir.unwrap().path().join("src"), &mut files);
    }
    rust_files(&root.join("migrations/src"), &mut files);
    (root, files)
}

#[test]
fn a_module_with_children_is_a_folder_with_mod_rs_never_a_file_beside_a_folder() {
    let (root, files) = source_files();

    let file_style: Vec<String> = files
        .iter()
        .filter(|file| file.with_extension("").is_dir())
        .map(|file| file.strip_prefix(&root).unwrap_or(file).display().to_string())
        .collect();

    assert!(
        file_style.is_empty(),
        "these modules have children in a folder of the same name; move each to <name>/mod.rs: {file_style:?}"
    );
}

/// The environment variable names `config.rs` reads (string literals of the known prefixes in its
/// non-test code).
fn variables_read_by_the_config() -> std::collections::BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("crates/server/src/config.rs")).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap();
    const PREFIXES: &[&str] = &["RIVVI_", "CLERK_", "RETELL_", "LLM_", "S3_", "STORAGE_", "DATABASE_"];
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|literal| {
            PREFIXES.iter().any(|p| literal.starts_with(p))
                && literal.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// The names in the first cell of the README's configuration table.
fn variables_in_the_readme() -> std::collections::BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme.split("\n## Configuration").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|cell| cell.split(", ").map(|name| name.trim_matches('`').to_owned()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn every_environment_variable_the_server_reads_is_in_the_readme_and_nothing_else_is() {
    let read = variables_read_by_the_config();
    let documented = variables_in_the_readme();
    assert!(read.len() > 20, "the scan found the variables: {read:?}");
    let undocumented: Vec<&String> = read.difference(&documented).collect();
    assert!(undocumented.is_empty(), "read by config.rs, missing from the README's table: {undocumented:?}");
    // RUST_LOG is read by the log filter, not by config.rs.
    let stale: Vec<&String> = documented.difference(&read).filter(|name| *name != "RUST_LOG").collect();
    assert!(stale.is_empty(), "in the README's table, never read: {stale:?}");
}

/// The names of the modules `text` declares (`mod x;`, any visibility, attributes before it).
fn declared_modules(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|line| {
            let rest = line.strip_prefix("pub ").or_else(|| line.strip_prefix("pub(crate) ")).unwrap_or(line);
            rest.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

#[test]
fn every_module_of_a_file_with_a_layout_list_is_in_that_list() {
    let (root, files) = source_files();

    let mut with_lists = 0;
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let doc: String = text.lines().filter(|line| line.starts_with("//!")).collect::<Vec<_>>().join("\n");
        if !doc.contains("# Layout") {
            continue;
        }
        with_lists += 1;
        for name in declared_modules(&text) {
            if !doc.contains(&format!("`{name}`")) {
                missing.push(format!("{}: {name}", file.strip_prefix(&root).unwrap_or(&file).display()));
            }
        }
    }
    assert!(with_lists >= 10, "the scan found the crate docs: {with_lists}");
    assert!(missing.is_empty(), "modules missing from their file's `# Layout` list: {missing:?}");
}
