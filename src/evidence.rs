//! Evidence bundles: everything a sign-off rests on, in one folder that can be checked
//! later without trusting whoever kept it.
//!
//! `flowgate run … --evidence DIR` writes the four reports (secrets masked), the suite's
//! files as read (`suite/`), the target profile (`profile/`) and `manifest.json`: the
//! sha256 and size of every file, the tool's version and commit, the suite digest and
//! the verdict. `flowgate evidence verify DIR` re-hashes every file, refuses files the
//! manifest does not list, recomputes the suite digest from `suite/`, and re-derives the
//! verdict from `report.json`; it passes only if everything matches.
//!
//! Without a signature, someone who edits a file and re-writes the manifest to match is
//! not caught: the manifest proves integrity against accidents and careless edits, not
//! against a forger. With `--sign-key KEY.pem` (an Ed25519 private key in PKCS#8 PEM, e.g.
//! `openssl genpkey -algorithm ed25519`), `manifest.sig` holds the signature of
//! `manifest.json`'s bytes, and `evidence verify --public-key PUB.pem` checks it: then a
//! forger needs the private key.

use crate::exit::CliError;
use flowgate_reports::RunReport;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The manifest's format name; a verifier refuses others.
const FORMAT: &str = "flowgate-evidence/1";
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    tool: flowgate_reports::ToolInfo,
    created_at: chrono::DateTime<chrono::Utc>,
    /// `RunReport::verdict` of `report.json`, and its one-line wording and exit code.
    verdict: flowgate_reports::Verdict,
    status: String,
    exit_code: i32,
    suite_digest: Option<String>,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    path: String,
    sha256: String,
    bytes: u64,
}

fn io_err(path: &Path, e: std::io::Error) -> CliError {
    CliError::infra(format!("{}: {e}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| io_err(path, e))
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
fn files_under(dir: &Path) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io_err(&d, e))? {
            let path = entry.map_err(|e| io_err(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out.sort();
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuses a bundle folder that already holds files: a bundle holds one run only. `run`
/// checks this before sending anything (exit 2, nothing sent), and again when writing.
pub(crate) fn ensure_empty(dir: &Path) -> Result<(), CliError> {
    if dir.exists() && !files_under(dir)?.is_empty() {
        return Err(CliError::invalid(format!(
            "--evidence {}: the folder is not empty (a bundle must hold one run only)",
            dir.display()
        )));
    }
    Ok(())
}

/// Writes the bundle for a finished run into `dir` (which must be empty or absent).
pub(crate) fn write_bundle(
    dir: &Path,
    report: &RunReport,
    secrets: &[String],
    suite: &flowgate_harness::Suite,
    profile_path: &Path,
    profile: &flowgate_harness::Profile,
    sign_key: Option<&ed25519_dalek::SigningKey>,
) -> Result<PathBuf, CliError> {
    ensure_empty(dir)?;
    flowgate_reports::write_all_redacted(report, dir, secrets)
        .map_err(|e| CliError::infra(format!("cannot write the reports: {e}")))?;
    for (name, text) in &suite.sources {
        write_file(&dir.join("suite").join(name), text.as_bytes())?;
    }
    let profile_text =
        std::fs::read_to_string(profile_path).map_err(|e| io_err(profile_path, e))?;
    let profile_name = profile_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target.yaml".into());
    write_file(
        &dir.join("profile").join(profile_name),
        profile.masker.mask(&profile_text).as_bytes(),
    )?;
    let mut files = Vec::new();
    for rel in files_under(dir)? {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|e| io_err(&dir.join(&rel), e))?;
        files.push(FileEntry {
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            path: rel,
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        tool: report.tool.clone(),
        created_at: chrono::Utc::now(),
        verdict: report.verdict(),
        status: flowgate_reports::status_words(report),
        exit_code: report.exit_code(),
        suite_digest: Some(suite.digest.clone()),
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| CliError::infra(format!("cannot write the manifest: {e}")))?;
    let path = dir.join(MANIFEST);
    write_file(&path, text.as_bytes())?;
    if let Some(key) = sign_key {
        use ed25519_dalek::Signer;
        let signature = key.sign(text.as_bytes());
        write_file(
            &dir.join(SIGNATURE),
            format!("{}\n", hex::encode(signature.to_bytes())).as_bytes(),
        )?;
    }
    Ok(path)
}

/// Reads an Ed25519 private key (PKCS#8 PEM); a bad file is invalid input (exit 2).
pub(crate) fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey, CliError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("--sign-key {}: {e}", path.display())))?;
    ed25519_dalek::SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        CliError::invalid(format!(
            "--sign-key {}: not an Ed25519 private key in PKCS#8 PEM ({e}); make one with `openssl genpkey -algorithm ed25519 -out key.pem`",
            path.display()
        ))
    })
}

/// Reads an Ed25519 public key (SubjectPublicKeyInfo PEM).
pub(crate) fn read_verifying_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey, CliError> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("--public-key {}: {e}", path.display())))?;
    ed25519_dalek::VerifyingKey::from_public_key_pem(&text).map_err(|e| {
        CliError::invalid(format!(
            "--public-key {}: not an Ed25519 public key in PEM ({e}); derive it with `openssl pkey -in key.pem -pubout -out pub.pem`",
            path.display()
        ))
    })
}

/// Whether `manifest.sig` is a signature of `manifest.json` by `key`.
fn check_signature(
    dir: &Path,
    manifest: &str,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join(SIGNATURE))
        .map_err(|_| format!("{SIGNATURE}: missing (the bundle is not signed)"))?;
    let bytes: [u8; 64] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{SIGNATURE}: not an Ed25519 signature (128 hex digits)"))?;
    key.verify_strict(
        manifest.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&bytes),
    )
    .map_err(|_| {
        format!("{SIGNATURE}: does not verify: {MANIFEST} was changed, or signed with another key")
    })
}

/// Checks a bundle. `Ok(status)` when every file, the suite digest and the verdict
/// match; otherwise every problem found, each naming its file.
pub(crate) fn verify_bundle(
    dir: &Path,
    public_key: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<String, Vec<String>> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| vec![format!("{MANIFEST}: cannot read: {e}")])?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| vec![format!("{MANIFEST}: not a flowgate manifest: {e}")])?;
    if manifest.format != FORMAT {
        return Err(vec![format!(
            "{MANIFEST}: format `{}`, expected `{FORMAT}`",
            manifest.format
        )]);
    }
    let mut problems = Vec::new();
    if let Some(key) = public_key {
        if let Err(p) = check_signature(dir, &text, key) {
            problems.push(p);
        }
    }
    for f in &manifest.files {
        match std::fs::read(dir.join(&f.path)) {
            Err(_) => problems.push(format!("{}: missing", f.path)),
            Ok(bytes) => {
                let digest = sha256_hex(&bytes);
                if digest != f.sha256 {
                    problems.push(format!(
                        "{}: changed (sha256 {} in the manifest, {} now)",
                        f.path,
                        &f.sha256[..f.sha256.len().min(12)],
                        &digest[..12]
                    ));
                }
            }
        }
    }
    match files_under(dir) {
        Ok(present) => {
            for rel in present {
                let own = rel == MANIFEST || rel == SIGNATURE;
                if !own && !manifest.files.iter().any(|f| f.path == rel) {
                    problems.push(format!("{rel}: not in the manifest"));
                }
            }
        }
        Err(e) => problems.push(e.message),
    }
    // The verdict is re-derived, not read: report.json must imply what the manifest says.
    match std::fs::read_to_string(dir.join("report.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| flowgate_reports::from_json(&t).map_err(|e| e.to_string()))
    {
        Err(e) => problems.push(format!("report.json: {e}")),
        Ok(report) => {
            if report.verdict() != manifest.verdict || report.exit_code() != manifest.exit_code {
                problems.push(format!(
                    "report.json: its results give `{}` (exit {}), the manifest says `{}` (exit {})",
                    flowgate_reports::status_words(&report),
                    report.exit_code(),
                    manifest.status,
                    manifest.exit_code
                ));
            }
            if report.selection.suite_digest != manifest.suite_digest {
                problems.push("report.json: its suite digest is not the manifest's".into());
            }
        }
    }
    // The suite files must be the suite the run used.
    let suite_dir = dir.join("suite");
    let mut sources = Vec::new();
    if let Ok(rels) = files_under(&suite_dir) {
        for rel in rels {
            if let Ok(t) = std::fs::read_to_string(suite_dir.join(&rel)) {
                sources.push((rel, t));
            }
        }
    }
    let digest = flowgate_harness::digest_of(&sources);
    if manifest.suite_digest.as_deref() != Some(digest.as_str()) {
        problems.push(format!(
            "suite/: its files digest to {}, the run used {}",
            &digest[..12],
            manifest
                .suite_digest
                .as_deref()
                .map(|d| &d[..d.len().min(12)])
                .unwrap_or("(none)")
        ));
    }
    if problems.is_empty() {
        Ok(match public_key {
            Some(_) => format!("{} (signature verified)", manifest.status),
            None if dir.join(SIGNATURE).exists() => format!(
                "{} (signed; give --public-key to check the signature)",
                manifest.status
            ),
            None => manifest.status,
        })
    } else {
        Err(problems)
    }
}
