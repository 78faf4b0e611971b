//! Tidy checks that run under `cargo test`: every Rust file opens with a `//!`
//! module doc, every RPC in `proto/` is documented, every crate follows the
//! workspace lint policy, no tracing call logs a key or interaction text,
//! the README stays short with links that resolve; only the clock module
//! reads the wall clock; every crate's dependencies keep the layering that
//! ARCHITECTURE.md states.

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

/// The arguments of every `tracing::` macro call and `#[tracing::instrument]`
/// attribute in `text` (from the macro name to its closing parenthesis).
fn tracing_calls(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("tracing::") {
        let call = &rest[at..];
        let Some(open) = call.find('(') else { break };
        let name = &call["tracing::".len()..open];
        let is_call = name.ends_with('!') || name == "instrument";
        if is_call
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_!".contains(c))
        {
            let mut depth = 0usize;
            for (i, c) in call[open..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    out.push(&call[..open + i + 1]);
                    break;
                }
            }
        }
        rest = &call["tracing::".len()..];
    }
    out
}

/// API keys and interaction text are never logged: no tracing call names a
/// text field or a credential, and instrumented functions record none of
/// their arguments (`skip_all`).
#[test]
fn logs_carry_no_keys_and_no_interaction_text() {
    let mut rs = Vec::new();
    files(&root().join("crates"), ".rs", &mut rs);
    let forbidden = [
        "body",
        "subject",
        "comment",
        "note",
        "authorization",
        "x-api-key",
        "api_key",
        "presented",
        "secret",
        "password",
    ];
    let mut bad = Vec::new();
    let mut calls = 0;
    for p in &rs {
        let text = std::fs::read_to_string(p).unwrap();
        for call in tracing_calls(&text) {
            calls += 1;
            let lower = call.to_ascii_lowercase();
            let named: Vec<&str> = forbidden
                .iter()
                .copied()
                .filter(|w| lower.contains(w))
                .collect();
            let unskipped = call.starts_with("tracing::instrument") && !call.contains("skip_all");
            if !named.is_empty() || unskipped {
                bad.push(format!(
                    "{}: {call}",
                    p.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        calls > 20,
        "only {calls} tracing calls found: is the scan broken?"
    );
    assert!(
        bad.is_empty(),
        "tracing calls that may log a key or interaction text: {bad:#?}"
    );
}

/// Every "now" goes through `pulse_core::Clock`, which tests set: a direct
/// read of the wall clock anywhere else would make a result depend on the
/// day it runs. (The patterns are split so this file does not match itself.)
#[test]
fn the_wall_clock_is_read_only_by_the_clock_module() {
    let patterns = [
        ["Utc", "::now"],
        ["Utc", "::today"],
        ["Local", "::now"],
        ["Local", "::today"],
        ["SystemTime", "::now"],
    ]
    .map(|p| p.concat());
    let allowed = root().join("crates/pulse-core/src/clock.rs");
    let mut rs = Vec::new();
    files(&root().join("crates"), ".rs", &mut rs);
    let mut found = Vec::new();
    for p in rs.iter().filter(|p| **p != allowed) {
        let text = std::fs::read_to_string(p).unwrap();
        for (i, line) in text.lines().enumerate() {
            if let Some(pat) = patterns.iter().find(|pat| line.contains(pat.as_str())) {
                let rel = p.strip_prefix(root()).unwrap().display().to_string();
                found.push(format!("{rel}:{}: {pat}", i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "read the time from pulse_core::Clock instead: {found:#?}"
    );
}

/// The targets of the relative markdown links `](path)` and `](path#anchor)`
/// in `text`, without the anchor: external links (`http://`, `https://`,
/// `mailto:`), links to an anchor of the same page, fenced code blocks and
/// inline code are skipped.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Even pieces are outside inline code.
        for piece in line.split('`').step_by(2) {
            let mut rest = piece;
            while let Some(at) = rest.find("](") {
                let after = &rest[at + 2..];
                let Some(close) = after.find(')') else { break };
                let target = after[..close].split_whitespace().next().unwrap_or("");
                let external = ["http://", "https://", "mailto:"]
                    .iter()
                    .any(|scheme: &&str| target.starts_with(*scheme));
                if !external && !target.is_empty() && !target.starts_with('#') {
                    let path = target.split('#').next().unwrap_or(target);
                    out.push(path.to_string());
                }
                rest = &after[close..];
            }
        }
    }
    out
}

/// Lines of `text` that refer to an issue by number ("issue 5", "Issue 12").
fn issue_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for word in ["issue ", "Issue "] {
            let mut from = 0;
            while let Some(at) = line[from..].find(word) {
                let end = from + at + word.len();
                if line[end..].starts_with(|c: char| c.is_ascii_digit()) {
                    out.push(format!("line {}: {}", n + 1, line.trim()));
                }
                from = end;
            }
        }
    }
    out
}

/// The README is a five-minute read with the reference material in `docs/`:
/// it has fewer than 300 lines, every relative link in it and in `docs/*.md`
/// names a file that exists, and no page refers to an issue number (pages
/// say what the product does, not how it got there).
#[test]
fn readme_is_short_and_its_links_resolve() {
    let readme = root().join("README.md");
    let lines = std::fs::read_to_string(&readme).unwrap().lines().count();
    assert!(
        lines < 300,
        "README.md has {lines} lines (fewer than 300 allowed): move reference material to docs/"
    );

    let mut pages = vec![readme];
    files(&root().join("docs"), ".md", &mut pages);
    assert!(
        pages.len() > 5,
        "only {} pages found: is the scan broken?",
        pages.len()
    );
    let mut links = 0;
    let mut broken = Vec::new();
    let mut issues = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let dir = page.parent().unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for target in relative_links(&text) {
            links += 1;
            if !dir.join(&target).exists() {
                broken.push(format!("{name}: {target}"));
            }
        }
        for hit in issue_references(&text) {
            issues.push(format!("{name}: {hit}"));
        }
    }
    assert!(
        links > 10,
        "only {links} relative links found: is the scan broken?"
    );
    assert!(
        broken.is_empty(),
        "links to files that do not exist: {broken:#?}"
    );
    assert!(
        issues.is_empty(),
        "issue references (say what the product does instead): {issues:#?}"
    );
}

/// The workspace crates and external crates named in a manifest's
/// `[dependencies]` table (not dev- or build-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

#[test]
fn every_dependency_keeps_the_layering_architecture_states() {
    let arch = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let table = arch
        .split("<!-- layering: checked by tidy.rs -->")
        .nth(1)
        .expect("ARCHITECTURE.md has the layering table")
        .split("```")
        .nth(1)
        .expect("the layering table is a fenced block");
    // crate -> (pure, allowed workspace dependencies), rows bottom up.
    let mut rows: Vec<(String, bool, Vec<String>)> = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (head, deps) = line.split_once(':').expect("row: crate [(pure)] : deps");
        let mut head = head.split_whitespace();
        let name = head.next().unwrap().to_string();
        let pure = head.next() == Some("(pure)");
        let deps: Vec<String> = deps.split_whitespace().map(String::from).collect();
        for d in &deps {
            assert!(
                rows.iter().any(|(r, _, _)| r == d),
                "layering table: {name} may depend on {d}, which is not on a row below it"
            );
        }
        rows.push((name, pure, deps));
    }
    const IMPURE: &[&str] = &[
        "tokio", "sqlx", "tonic", "prost", "axum", "hyper", "tower", "clap",
    ];
    let mut broken = Vec::new();
    let mut crates = Vec::new();
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = e.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Some((_, pure, allowed)) = rows.iter().find(|(r, _, _)| *r == name) else {
            broken.push(format!("{name} is not in ARCHITECTURE.md's layering table"));
            continue;
        };
        crates.push(name.clone());
        for dep in dependencies(&std::fs::read_to_string(&manifest).unwrap()) {
            if dep.starts_with("pulse") && !allowed.contains(&dep) {
                broken.push(format!(
                    "{name} depends on {dep}, which its row does not allow"
                ));
            }
            if *pure
                && IMPURE
                    .iter()
                    .any(|i| dep == *i || dep.starts_with(&format!("{i}-")))
            {
                broken.push(format!("{name} is (pure) but depends on {dep}"));
            }
        }
    }
    assert!(crates.len() >= 14, "found only {crates:?}");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn dependencies_are_read_from_the_dependencies_table_only() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\npulse-core.workspace = true\n\
                    tokio = { workspace = true }\n# a comment\n\n[dev-dependencies]\nsqlx = \"1\"\n";
    assert_eq!(dependencies(manifest), ["pulse-core", "tokio"]);
}
