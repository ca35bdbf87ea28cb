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

#[test]
fn a_module_with_children_is_a_folder_with_mod_rs_never_a_file_beside_a_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap() {
        rust_files(&crate_dir.unwrap().path().join("src"), &mut files);
    }
    rust_files(&root.join("migrations/src"), &mut files);

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
