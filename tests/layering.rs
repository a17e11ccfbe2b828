//! Layering inside the crates (ARCHITECTURE.md, "Code map"): which module may name which.
//! `tests/architecture.rs` checks the crate graph; this reads the sources, because Rust
//! lets any module of a crate name any other.
//!
//! A module's dependencies are the `crate::<module>` paths its files write (in `use`
//! lines and inline), and `super::` paths that climb out of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source of a file without its `#[cfg(test)]` module (tests may reach anywhere)
/// and without comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules of the crate that `code` names as `crate::X`.
fn crate_modules_named(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '{')
            .collect();
        if let Some(list) = name.strip_prefix('{') {
            // `crate::{a, b::c}`: take every first segment of the list.
            let end = after.find('}').unwrap_or(after.len());
            for item in after[1..end].split(',') {
                let first: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() {
                    out.insert(first);
                }
            }
            let _ = list;
        } else if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

/// Every `crate::X` a module (folder or file under `src`) names, with the file naming it.
fn dependencies(src: &Path, module: &str) -> Vec<(String, PathBuf)> {
    let dir = src.join(module);
    let files = if dir.is_dir() {
        rust_files(&dir)
    } else {
        vec![src.join(format!("{module}.rs"))]
    };
    let mut out = Vec::new();
    for f in files {
        for m in crate_modules_named(&code_of(&f)) {
            if m != module {
                out.push((m, f.clone()));
            }
        }
    }
    out
}

fn assert_never_names(src: &Path, module: &str, forbidden: &[&str]) {
    let breaches: Vec<String> = dependencies(src, module)
        .into_iter()
        .filter(|(m, _)| forbidden.contains(&m.as_str()))
        .map(|(m, f)| format!("{} names crate::{m}", f.display()))
        .collect();
    assert!(
        breaches.is_empty(),
        "`{module}` must not depend on {forbidden:?}:\n{}",
        breaches.join("\n")
    );
}

fn assert_only_names(src: &Path, module: &str, allowed: &[&str]) {
    let breaches: Vec<String> = dependencies(src, module)
        .into_iter()
        .filter(|(m, _)| !allowed.contains(&m.as_str()))
        .map(|(m, f)| format!("{} names crate::{m}", f.display()))
        .collect();
    assert!(
        breaches.is_empty(),
        "`{module}` may depend only on {allowed:?}:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn the_parser_sees_the_crate_paths_a_file_writes() {
    let names = crate_modules_named(
        "use crate::store::db::Db;\nuse crate::{api, domain::FlowStatus};\nlet x = crate::engine::start();",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["api", "domain", "engine", "store"]
    );
}

#[test]
fn server_domain_depends_on_nothing_else_of_the_server() {
    let src = root().join("server/src");
    assert_only_names(&src, "domain", &[]);
}

#[test]
fn server_phases_see_only_the_domain() {
    let src = root().join("server/src");
    assert_only_names(&src, "phases", &["domain"]);
}

#[test]
fn server_store_never_answers_in_http_terms_nor_knows_the_engine() {
    let src = root().join("server/src");
    assert_only_names(&src, "store", &["domain"]);
}

#[test]
fn server_engine_never_reaches_the_api_or_the_top_level() {
    let src = root().join("server/src");
    // The engine gets its own configuration; `crate::ServerConfig` and `crate::build`
    // are the top level's business.
    assert_only_names(&src, "engine", &["domain", "store", "phases"]);
}

#[test]
fn server_api_reaches_the_engine_only_through_its_port() {
    let src = root().join("server/src");
    assert_never_names(&src, "api", &["phases"]);
    for f in rust_files(&src.join("api")) {
        let code = code_of(&f);
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::engine::") {
            let after = &rest[i + "crate::engine::".len()..];
            assert!(
                after.starts_with("port"),
                "{} names the engine beyond its port: crate::engine::{}",
                f.display(),
                after.chars().take(30).collect::<String>()
            );
            rest = after;
        }
    }
}

#[test]
fn harness_spec_describes_and_never_runs() {
    let src = root().join("harness/src");
    assert_never_names(&src, "spec", &["run", "suite", "console"]);
}

#[test]
fn harness_suite_reading_never_sends_anything() {
    let src = root().join("harness/src");
    // `run::assert` holds the JSONPath and operator parsers the checks share; nothing
    // that sends a request may be reached from reading a suite.
    for (m, f) in dependencies(&src, "suite") {
        if m == "run" {
            let code = code_of(&f);
            for line in code.lines().filter(|l| l.contains("crate::run::")) {
                assert!(
                    line.contains("crate::run::assert::"),
                    "{}: reading a suite reaches the runner: {line}",
                    f.display()
                );
            }
        }
    }
}

/// The files of the workspace's crates (not tests) over this many lines.
const MAX_LINES: usize = 700;

#[test]
fn no_source_file_is_a_warehouse() {
    // Known exceptions, each a single concept that is long by nature; a new file over
    // the limit must be split or argued for here.
    let allowed = [
        "reports/src/render/html.rs", // one page: markup, CSS and the SVG plots
        "reports/src/render/mod.rs",  // the one sorted view every renderer shares
        "server/src/engine/lease.rs", // claim, renew and the fenced commit: one protocol
    ];
    let mut over = Vec::new();
    for krate in [
        "src",
        "server/src",
        "harness/src",
        "load/src",
        "reports/src",
    ] {
        for f in rust_files(&root().join(krate)) {
            let rel = f
                .strip_prefix(root())
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let code = std::fs::read_to_string(&f).unwrap_or_default();
            // Unit tests at the bottom of a file do not count.
            let body = match code.find("#[cfg(test)]\nmod tests") {
                Some(i) => &code[..i],
                None => &code[..],
            };
            let lines = body.lines().count();
            if lines > MAX_LINES && !allowed.contains(&rel.as_str()) {
                over.push(format!("{rel}: {lines} lines"));
            }
        }
    }
    assert!(
        over.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        over.join("\n")
    );
}
