//! Tidy checks that run under `cargo test`: every Rust file opens with a `//!`
//! module doc, every RPC in `proto/` is documented, and every crate follows
//! the workspace lint policy.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&p, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(p);
        }
    }
}

#[test]
fn every_rust_file_has_a_module_doc() {
    let mut rs = Vec::new();
    files(&root().join("crates"), ".rs", &mut rs);
    assert!(rs.len() > 10);
    let missing: Vec<String> = rs
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:#?}"
    );
}

#[test]
fn every_rpc_is_documented() {
    let mut protos = Vec::new();
    files(&root().join("proto"), ".proto", &mut protos);
    assert!(!protos.is_empty());
    let mut undocumented = Vec::new();
    for p in &protos {
        let text = std::fs::read_to_string(p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            if t.starts_with("rpc ") || t.starts_with("service ") {
                let prev = if i > 0 { lines[i - 1].trim_start() } else { "" };
                if !prev.starts_with("//") {
                    undocumented.push(format!(
                        "{}: {}",
                        p.file_name().unwrap().to_string_lossy(),
                        t
                    ));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented services and RPCs: {undocumented:#?}"
    );
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let mut manifests = Vec::new();
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let m = e.unwrap().path().join("Cargo.toml");
        if m.exists() {
            manifests.push(m);
        }
    }
    let bad: Vec<String> = manifests
        .iter()
        .filter(|m| {
            !std::fs::read_to_string(m)
                .unwrap()
                .contains("[lints]\nworkspace = true")
        })
        .map(|m| m.display().to_string())
        .collect();
    assert!(
        bad.is_empty(),
        "crates without `[lints] workspace = true`: {bad:?}"
    );
}
