//! `flowgate evidence verify DIR`: checks an evidence bundle written by
//! `flowgate run … --evidence DIR` (see `crate::evidence`).

use crate::exit::{CmdResult, FAILED, OK};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Re-hash every file of a bundle, re-derive its verdict from report.json and the suite
    /// digest from suite/; exit 0 only if all match the manifest, else 1 naming each file.
    Verify {
        /// The bundle folder.
        dir: PathBuf,
    },
}

pub async fn run(c: EvidenceCommand) -> CmdResult {
    match c {
        EvidenceCommand::Verify { dir } => match crate::evidence::verify_bundle(&dir) {
            Ok(status) => {
                println!(
                    "{}: every file matches its manifest; verdict: {status}",
                    dir.display()
                );
                Ok(OK)
            }
            Err(problems) => {
                for p in &problems {
                    println!("{}: {p}", dir.display());
                }
                println!(
                    "{}: NOT VERIFIED ({} problem(s))",
                    dir.display(),
                    problems.len()
                );
                Ok(FAILED)
            }
        },
    }
}
