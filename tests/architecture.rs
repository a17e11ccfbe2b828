//! Invariants of the workspace layout (ARCHITECTURE.md): the harness validates any target
//! over HTTP, so neither it nor the crates built on it may link the reference server.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// `cargo metadata --no-deps` of the workspace.
fn metadata() -> serde_json::Value {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Workspace package name -> names of its workspace (path) dependencies, normal and dev.
fn workspace_dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().expect("packages array");
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d))
                .map(String::from)
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect()
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(graph.get(&node).into_iter().flatten().cloned());
        }
    }
    false
}

#[test]
fn harness_load_and_reports_never_link_the_server() {
    let graph = workspace_dependency_graph();
    for krate in ["flowgate-harness", "flowgate-load", "flowgate-reports"] {
        assert!(graph.contains_key(krate), "{krate} is a workspace member");
        assert!(
            !reaches(&graph, krate, "flowgate-server"),
            "{krate} depends (directly or not) on flowgate-server"
        );
    }
}

#[test]
fn reports_depend_on_no_other_workspace_crate() {
    let graph = workspace_dependency_graph();
    assert_eq!(
        graph.get("flowgate-reports"),
        Some(&BTreeSet::new()),
        "the result model is the bottom of the graph"
    );
}

/// The test kit (which PostgreSQL the tests use) is for tests only: no crate links it
/// outside `[dev-dependencies]`, and it knows nothing of the product.
#[test]
fn the_testkit_is_a_dev_dependency_only() {
    let metadata = metadata();
    let mut users = Vec::new();
    for p in metadata["packages"].as_array().expect("packages array") {
        for d in p["dependencies"].as_array().into_iter().flatten() {
            if d["name"] == "flowgate-testkit" {
                users.push((p["name"].to_string(), d["kind"].to_string()));
            }
        }
    }
    assert!(
        !users.is_empty(),
        "the server and CLI tests use the testkit"
    );
    for (package, kind) in &users {
        assert_eq!(
            kind, "\"dev\"",
            "{package} links flowgate-testkit as {kind}"
        );
    }
    let graph = workspace_dependency_graph();
    assert_eq!(graph.get("flowgate-testkit"), Some(&BTreeSet::new()));
}
