//! `flowgate run SCENARIO_OR_DIR... --target PROFILE`: load and check the scenarios, probe
//! the target, run, print the live view and the failures, write the reports.

use crate::exit::{CliError, CmdResult, INVALID, OK};
use flowgate_harness::console::{failure_details, ConsoleProgress};
use flowgate_harness::{
    probe_target, run_suite, LoadRunner, ProcessEnv, Profile, RunOptions, Suite,
};
use flowgate_reports::Outcome;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files or folders (every *.yaml under them, except lib/, data/,
    /// *.target.yaml and waivers.yaml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The target profile (*.target.yaml).
    #[arg(long, short = 't')]
    target: PathBuf,
    #[command(flatten)]
    select: super::SelectArgs,
    /// Stop scheduling scenarios after the first failure (the rest are skipped).
    #[arg(long)]
    fail_fast: bool,
    /// Also run the suite's load scenarios (their traffic is heavy: without this flag, or
    /// `allow_load: true` in the profile, they are left out and the report says so).
    #[arg(long)]
    load: bool,
    /// Stop a load phase as soon as its thresholds can no longer pass (a flow completion
    /// rate out of reach, no flow completing at all), instead of running it to its end.
    #[arg(long)]
    stop_early: bool,
    /// Certified mode: refuse (exit 2, before sending anything) a run that would leave
    /// out a `must` requirement, and mark the report certified only if every `must` ran
    /// and passed (else the verdict is NOT CERTIFIED, exit 1).
    #[arg(long)]
    certify: bool,
    /// Fail the run (exit 1) unless it exercised at least this percentage of the
    /// documented responses (operation × status) of the target's OpenAPI document
    /// (profile `openapi_path`).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    min_coverage: Option<f64>,
    /// Run only the scenarios that failed or errored in this earlier result (its
    /// report.json), against the same suite.
    #[arg(long, value_name = "RESULT.json")]
    rerun_failed: Option<PathBuf>,
    /// Known failures accepted for now (a waivers file).
    #[arg(long)]
    waivers: Option<PathBuf>,
    /// Write the reports (report.md, junit.xml, report.json, report.html) into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write an evidence bundle into this (empty) folder: every report, the suite's
    /// files, the profile and a manifest of sha256 hashes (`flowgate evidence verify`).
    #[arg(long, value_name = "DIR")]
    evidence: Option<PathBuf>,
    /// Sign the evidence bundle's manifest with this Ed25519 private key (PKCS#8 PEM,
    /// e.g. `openssl genpkey -algorithm ed25519 -out key.pem`): `manifest.sig`.
    #[arg(long, value_name = "KEY.pem", requires = "evidence")]
    sign_key: Option<PathBuf>,
    /// Write the JSON run result to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write JUnit XML to this file (for the CI's test view).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write the Markdown sign-off report to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write the HTML report to this file.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Start the system under test with `sh -c COMMAND`, wait for the profile's health URL
    /// to answer 200, run, then stop it.
    #[arg(long)]
    spawn: Option<String>,
    /// How long to wait for the spawned system to become healthy.
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_duration)]
    spawn_timeout: Duration,
}

/// A spawned system under test, stopped (its whole process group) on drop.
struct Spawned {
    child: tokio::process::Child,
    pgid: Option<u32>,
}

impl Spawned {
    fn start(command: &str) -> Result<Spawned, CliError> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(command).kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| CliError::infra(format!("cannot start `{command}`: {e}")))?;
        let pgid = child.id();
        Ok(Spawned { child, pgid })
    }

    async fn stop(mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, "TERM");
            let waited = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            if waited.is_err() {
                signal_group(pgid, "KILL");
                let _ = self.child.wait().await;
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, "KILL");
        }
    }
}

/// Signals a whole process group (the shell and what it started) with `kill`.
fn signal_group(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

async fn wait_healthy(spawned: &mut Spawned, url: &str, timeout: Duration) -> Result<(), CliError> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < timeout {
        if let Ok(Some(status)) = spawned.child.try_wait() {
            return Err(CliError::infra(format!(
                "the spawned command exited ({status}) before {url} answered 200"
            )));
        }
        match client.get(url).timeout(Duration::from_secs(2)).send().await {
            Ok(r) if r.status().as_u16() == 200 => return Ok(()),
            Ok(r) => last = format!("status {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(CliError::infra(format!(
        "the spawned system was not healthy within {:.0} s: {url} gave {last}",
        timeout.as_secs_f64()
    )))
}

pub async fn run(args: RunArgs) -> CmdResult {
    let policy =
        flowgate_reports::parse_fail_on(&args.select.fail_on).map_err(CliError::invalid)?;
    let waivers = match &args.waivers {
        Some(p) => Some(flowgate_reports::load_waivers(p).map_err(CliError::invalid)?),
        None => None,
    };
    let profile = Profile::read(&args.target, &ProcessEnv).map_err(CliError::invalid)?;
    let suite = Suite::read(&args.paths).map_err(CliError::invalid)?;
    suite
        .validate_against(&profile)
        .map_err(CliError::invalid)?;
    if args.select.jobs == 0 {
        return Err(CliError::invalid("--jobs must be at least 1"));
    }
    if let Some(dir) = &args.evidence {
        crate::evidence::ensure_empty(dir)?;
    }
    let sign_key = match &args.sign_key {
        Some(p) => Some(crate::evidence::read_signing_key(p)?),
        None => None,
    };
    let only_ids = match &args.rerun_failed {
        Some(path) => match failed_ids(path, &suite)? {
            Some(ids) => Some((ids, format!("--rerun-failed {}", path.display()))),
            None => {
                println!(
                    "nothing failed or errored in {}: nothing to rerun",
                    path.display()
                );
                return Ok(OK);
            }
        },
        None => None,
    };

    if args.min_coverage.is_some() && profile.spec.openapi_path.is_none() {
        return Err(CliError::invalid(format!(
            "--min-coverage needs the target's OpenAPI document: add `openapi_path` (e.g. `/openapi.json`) to {}",
            args.target.display()
        )));
    }
    let opts = run_options(&args, &profile, policy.fail_on, waivers.clone(), only_ids);
    if args.certify {
        let dropped = opts.dropped_musts(&suite, &profile);
        if !dropped.is_empty() {
            return Err(CliError::invalid(format!(
                "--certify: {} must requirement{} would not run, so the run could not be certified; nothing was sent:\n  {}",
                dropped.len(),
                if dropped.len() == 1 { "" } else { "s" },
                dropped.join("\n  ")
            )));
        }
    }

    let mut spawned = None;
    if let Some(command) = &args.spawn {
        let mut s = Spawned::start(command)?;
        let url = profile.health_url();
        if let Err(e) = wait_healthy(&mut s, &url, args.spawn_timeout).await {
            s.stop().await;
            return Err(e);
        }
        spawned = Some(s);
    }

    let result = run_checks(&args, &suite, &profile, opts, waivers, sign_key.as_ref()).await;
    if let Some(s) = spawned {
        s.stop().await;
    }
    result
}

/// The ids of the checks that failed or errored in an earlier result, all of which must
/// be in `suite` (exit 2 otherwise: nothing is sent); `None` when nothing failed.
fn failed_ids(path: &std::path::Path, suite: &Suite) -> Result<Option<Vec<String>>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))?;
    let earlier = flowgate_reports::from_json(&text)
        .map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))?;
    if let Some(digest) = &earlier.selection.suite_digest {
        if *digest != suite.digest {
            eprintln!(
                "warning: the suite changed since {} was written (sha256 {} then, {} now)",
                path.display(),
                digest.get(..12).unwrap_or(digest),
                suite.digest.get(..12).unwrap_or(&suite.digest)
            );
        }
    }
    let ids: Vec<String> = earlier
        .checks()
        .filter(|(_, _, _, o)| matches!(o, Outcome::Failed | Outcome::Error))
        .map(|(id, _, _, _)| id.to_string())
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !suite.scenarios.iter().any(|s| &s.id == *id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(CliError::invalid(format!(
            "--rerun-failed {}: not in this suite: {}",
            path.display(),
            missing.join(", ")
        )));
    }
    Ok(Some(ids))
}

/// `80`, `80%` or `80.5` → 80.0; 0 to 100.
fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

fn run_options(
    args: &RunArgs,
    profile: &Profile,
    fail_on: Option<flowgate_reports::Severity>,
    waivers: Option<flowgate_reports::Waivers>,
    only_ids: Option<(Vec<String>, String)>,
) -> RunOptions {
    let progress = Arc::new(ConsoleProgress::new(args.select.quiet));
    RunOptions {
        tags: args.select.tags.clone(),
        skip_tags: args.select.skip_tags.clone(),
        names: args.select.names.clone(),
        jobs: args.select.jobs,
        fail_fast: args.fail_fast,
        fail_on,
        progress: Some(progress),
        // Load scenarios run as declared (`flowgate load --duration` shortens one), and
        // only when asked: a target that is not ours gets no load it did not agree to.
        load_runner: (args.load || profile.spec.allow_load).then(|| {
            Arc::new(flowgate_load::GooseLoadRunner {
                options: flowgate_load::LoadOptions {
                    progress: !args.select.quiet,
                    stop_early: args.stop_early,
                    ..Default::default()
                },
                ..Default::default()
            }) as Arc<dyn LoadRunner>
        }),
        waivers: waivers.map(Arc::new),
        only_ids,
        certify: args.certify,
        min_coverage: args.min_coverage,
        history_file: args.select.history.clone(),
    }
}

async fn run_checks(
    args: &RunArgs,
    suite: &Suite,
    profile: &Profile,
    opts: RunOptions,
    waivers: Option<flowgate_reports::Waivers>,
    sign_key: Option<&ed25519_dalek::SigningKey>,
) -> CmdResult {
    probe_target(profile).await.map_err(CliError::infra)?;
    let mut report = run_suite(suite, profile, opts).await;
    crate::build_info::stamp(&mut report);

    if let Some(w) = &waivers {
        for note in flowgate_reports::apply_waivers(&mut report, w, chrono::Utc::now().date_naive())
        {
            eprintln!("{note}");
        }
    }
    print!("{}", profile.masker.mask(&failure_details(&report)));

    let secrets: Vec<String> = profile.masker.secrets().to_vec();
    if let Some(dir) = &args.out {
        super::write_reports(&report, dir, &secrets)?;
    }
    if let Some(dir) = &args.evidence {
        let manifest = crate::evidence::write_bundle(
            dir,
            &report,
            &secrets,
            suite,
            &args.target,
            profile,
            sign_key,
        )?;
        println!("wrote {}", manifest.display());
    }
    let single_files = [
        (&args.json, flowgate_reports::OutputFormat::Json),
        (&args.junit, flowgate_reports::OutputFormat::Junit),
        (&args.markdown, flowgate_reports::OutputFormat::Markdown),
        (&args.html, flowgate_reports::OutputFormat::Html),
    ];
    for (file, format) in single_files {
        if let Some(file) = file {
            flowgate_reports::write_one_redacted(&report, format, file, &secrets)
                .map_err(|e| CliError::infra(format!("cannot write {}: {e}", file.display())))?;
        }
    }
    let code = report.exit_code();
    Ok(u8::try_from(code).unwrap_or(INVALID))
}
