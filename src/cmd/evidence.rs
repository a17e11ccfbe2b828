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
        /// Also check `manifest.sig` against this Ed25519 public key (PEM); a bundle
        /// that is unsigned, or signed by another key, then fails.
        #[arg(long, value_name = "PUB.pem")]
        public_key: Option<PathBuf>,
    },
}

pub async fn run(c: EvidenceCommand) -> CmdResult {
    match c {
        EvidenceCommand::Verify { dir, public_key } => {
            let key = match &public_key {
                Some(p) => Some(crate::evidence::read_verifying_key(p)?),
                None => None,
            };
            verify(&dir, key.as_ref())
        }
    }
}

fn verify(dir: &std::path::Path, key: Option<&ed25519_dalek::VerifyingKey>) -> CmdResult {
    match crate::evidence::verify_bundle(dir, key) {
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
    }
}
