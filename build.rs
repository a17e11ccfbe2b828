//! Records the commit the binary is built from (`FLOWGATE_COMMIT`), for the reports'
//! header and evidence. Outside a git checkout (a source tarball) there is none, and the
//! reports say so.

use std::process::Command;

fn main() {
    let git_dir = std::path::Path::new(".git");
    if git_dir.join("HEAD").is_file() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
            if let Some(reference) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed=.git/{reference}");
            }
        }
        println!("cargo:rerun-if-changed=.git/packed-refs");
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=FLOWGATE_COMMIT={commit}");
    }
}
