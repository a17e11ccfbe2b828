//! The shipped suite checks the contract, not the reference's wording (issue 14): no
//! assertion looks inside a free-text member (`detail`, `title`, `message`) beyond its
//! type and presence, and every scenario says what to fix and when it fails.

use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "lib" && name != "data" {
                scenario_files(&path, out);
            }
        } else if name.ends_with(".yaml") && !name.ends_with(".target.yaml") {
            out.push(path);
        }
    }
}

fn suite() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    scenario_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let v = serde_yaml_ng::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            (f, v)
        })
        .collect()
}

/// A JSONPath that ends at a member meant for people.
fn is_free_text(path: &str) -> bool {
    ["detail", "title", "message"]
        .iter()
        .any(|m| path.ends_with(&format!(".{m}")) || path.ends_with(&format!("['{m}']")))
}

/// Every `"$.…": spec` pair under `v`, wherever it is nested.
fn json_assertions<'a>(v: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    match v {
        Value::Mapping(m) => {
            for (k, item) in m {
                if let Some(k) = k.as_str().filter(|k| k.starts_with('$')) {
                    out.push((k, item));
                }
                json_assertions(item, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| json_assertions(i, out)),
        _ => {}
    }
}

#[test]
fn no_assertion_relies_on_wording() {
    let mut offenders = Vec::new();
    let mut free_text_checks = 0;
    for (file, doc) in suite() {
        let mut found = Vec::new();
        json_assertions(&doc, &mut found);
        for (path, spec) in found.into_iter().filter(|(p, _)| is_free_text(p)) {
            free_text_checks += 1;
            let shape_only = spec.as_mapping().is_some_and(|m| {
                m.keys().all(|k| {
                    matches!(
                        k.as_str(),
                        Some("type" | "not_empty" | "exists" | "min_length")
                    )
                })
            });
            if !shape_only {
                offenders.push(format!("{}: {path}: {spec:?}", file.display()));
            }
        }
    }
    assert!(
        free_text_checks > 10,
        "the walk found the suite's detail checks"
    );
    assert!(
        offenders.is_empty(),
        "assertions on free text (assert on `code`, `errors[*].pointer` or an extension member instead):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn every_scenario_says_what_to_fix_and_when_it_fails() {
    let mut missing = Vec::new();
    for (file, doc) in suite() {
        for key in ["remediation", "fails_when"] {
            let text = doc.get(key).and_then(Value::as_str).unwrap_or("").trim();
            if text.is_empty() {
                missing.push(format!("{}: no `{key}`", file.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// GitHub's anchor of a Markdown heading: lower case, spaces to `-`, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_scenario_states_a_levelled_requirement_citing_the_contract() {
    let api = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("server/API.md"))
        .unwrap();
    let anchors: Vec<String> = api
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let mut problems = Vec::new();
    for (file, doc) in suite() {
        let level = doc.get("level").and_then(Value::as_str);
        if !matches!(level, Some("must" | "should" | "may")) {
            problems.push(format!("{}: level is {level:?}", file.display()));
        }
        if doc
            .get("requirement")
            .and_then(Value::as_str)
            .is_none_or(|r| r.trim().is_empty())
        {
            problems.push(format!("{}: no requirement", file.display()));
        }
        let cites: Vec<&str> = doc
            .get("cites")
            .and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if cites.is_empty() {
            problems.push(format!("{}: cites nothing", file.display()));
        }
        for c in cites {
            match c.strip_prefix("API.md#") {
                Some(a) if anchors.iter().any(|x| x == a) => {}
                _ => problems.push(format!(
                    "{}: `{c}` is no section of server/API.md",
                    file.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checked-in conformance document is what `flowgate docs` writes for the suite now.
#[test]
fn the_conformance_document_is_current() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["docs", "--suite", "scenarios", "--cite-base", "../server/"])
        .args(["--title", "the flowgate suite"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked_in = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/CONFORMANCE.md"),
    )
    .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == checked_in,
        "scenarios/CONFORMANCE.md is stale; regenerate it with:\n  flowgate docs --suite scenarios --cite-base ../server/ --title \"the flowgate suite\" --out scenarios/CONFORMANCE.md"
    );
}
