//! `flowgate load SCENARIO --target PROFILE [--duration 60s] [--users N] [--out DIR]`:
//! run one load scenario on goose, print the summary and the thresholds, write the
//! reports. Exit 0 passed, 1 a threshold failed, 2 invalid input (nothing sent),
//! 3 the target could not be reached.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::exit::{CliError, CmdResult};
use flowgate_harness::{probe_target, ProcessEnv, Profile, Suite};
use flowgate_load::{render_summary, run_load, LoadOptions, LoadPlan, Overrides};
use flowgate_reports::{GatingPolicy, RunReport};

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The load scenario file (a scenario with a `load:` section).
    scenario: PathBuf,
    /// The target profile (*.target.yaml).
    #[arg(long, short = 't')]
    target: PathBuf,
    /// Run this long once every user has started, in place of the scenario's `duration`
    /// or `iterations`: `60s` in CI, `24h` for a soak (units: ms, s, m, h).
    #[arg(long, value_parser = crate::duration::parse_duration)]
    duration: Option<Duration>,
    /// Number of users, in place of the scenario's `users`.
    #[arg(long)]
    users: Option<usize>,
    /// Write the reports (report.md, junit.xml, report.json, report.html) into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the JSON run result to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress line while the load runs.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Stop as soon as the thresholds can no longer pass, saying why.
    #[arg(long)]
    stop_early: bool,
    /// Run one shard of the phase: `I/N`, 0 <= I < N (Kubernetes' JOB_COMPLETION_INDEX
    /// is I). Users, ramp-up rate and throttle are split; the result keeps its latency
    /// histograms for `flowgate report merge`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<flowgate_load::Shard>,
    /// Start at this wall-clock time (RFC 3339, e.g. 2026-12-01T10:00:00Z, or Unix
    /// seconds): the start barrier of a sharded run. A time already past starts at once.
    #[arg(long, value_parser = parse_start_at)]
    start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Rewrite the reports in --out from what was measured so far, this often (a soak's
    /// evidence before it ends: `--duration 24h --report-every 10m`).
    #[arg(long, value_parser = crate::duration::parse_duration)]
    report_every: Option<Duration>,
}

fn parse_shard(s: &str) -> Result<flowgate_load::Shard, String> {
    s.parse()
}

fn parse_start_at(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    s.parse::<i64>()
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| {
            format!("`{s}`: expected an RFC 3339 time (2026-12-01T10:00:00Z) or Unix seconds")
        })
}

pub async fn run(args: LoadArgs) -> CmdResult {
    if args.users == Some(0) {
        return Err(CliError::invalid("--users must be at least 1"));
    }
    let profile = Profile::read(&args.target, &ProcessEnv).map_err(CliError::invalid)?;
    let suite = Suite::read(std::slice::from_ref(&args.scenario)).map_err(CliError::invalid)?;
    suite
        .validate_against(&profile)
        .map_err(CliError::invalid)?;
    let scenario = match suite.scenarios.as_slice() {
        [one] if one.scenario.load.is_some() => one,
        [one] => {
            return Err(CliError::invalid(format!(
                "{}: not a load scenario (no `load:` section); run it with `flowgate run`",
                one.file
            )))
        }
        _ => {
            return Err(CliError::invalid(format!(
                "{}: expected exactly one load scenario file",
                args.scenario.display()
            )))
        }
    };
    let overrides = Overrides {
        duration: args.duration,
        users: args.users,
        shard: args.shard,
        ..Overrides::default()
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    let plan = LoadPlan::from_scenario(scenario, Arc::new(profile.clone()), &run_id, &overrides)
        .map_err(|e| CliError::invalid(format!("{}: {e}", scenario.file)))?;

    let target = probe_target(&profile).await.map_err(CliError::infra)?;
    if let Some(at) = args.start_at {
        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        if !args.quiet && !wait.is_zero() {
            eprintln!("waiting {:.1} s for --start-at {at}", wait.as_secs_f64());
        }
        tokio::time::sleep(wait).await;
    }
    let started_at = chrono::Utc::now();
    let mut filters = match args.shard {
        None => vec![format!("load phase only: flowgate load {}", scenario.id)],
        Some(shard) => vec![format!(
            "load phase only: flowgate load {} --shard {shard} (one shard: merge them)",
            scenario.id
        )],
    };
    // A standalone load phase is a deliberate part of a suite: its report says so rather
    // than judging the functional categories it never meant to run.
    let selection = flowgate_reports::Selection {
        suite_categories: vec!["load".into()],
        suite_scenarios: 1,
        filters: filters.clone(),
        suite_digest: Some(suite.digest.clone()),
        certify: false,
        min_coverage: None,
    };
    let secrets: Vec<String> = profile.masker.secrets().to_vec();
    let snapshots = match (args.report_every, &args.out) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(CliError::invalid(
                "--report-every needs --out DIR (where the rolling report is rewritten)",
            ))
        }
        (Some(every), Some(dir)) => {
            let (dir, target, secrets) = (dir.clone(), target.clone(), secrets.clone());
            let mut selection = selection.clone();
            filters.push("partial: a rolling report of a run still going".into());
            selection.filters = filters;
            let warned = std::sync::atomic::AtomicBool::new(false);
            Some(flowgate_load::Snapshots {
                every,
                sink: Arc::new(move |partial| {
                    let report =
                        load_report(target.clone(), started_at, partial, selection.clone());
                    if let Err(e) = flowgate_reports::write_all_redacted(&report, &dir, &secrets) {
                        if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            eprintln!("warning: cannot write the rolling report: {e}");
                        }
                    }
                }),
            })
        }
    };
    let options = LoadOptions {
        progress: !args.quiet,
        stop_early: args.stop_early,
        metrics_url: None,
        snapshots,
    };
    let result = run_load(plan, options)
        .await
        .map_err(|e| CliError::invalid(format!("{}: {e}", scenario.file)))?;
    print!("{}", profile.masker.mask(&render_summary(&result)));
    let report = load_report(target, started_at, result, selection);
    if let Some(dir) = &args.out {
        super::write_reports(&report, dir, &secrets)?;
    }
    if let Some(file) = &args.json {
        let mut copy = report.clone();
        flowgate_reports::redact(&mut copy, &secrets)
            .map_err(|e| CliError::infra(format!("cannot write {}: {e}", file.display())))?;
        std::fs::write(file, flowgate_reports::render_json(&copy))
            .map_err(|e| CliError::infra(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(crate::exit::INVALID))
}

/// The run result of one load phase, finished or (for `--report-every`) so far.
fn load_report(
    target: flowgate_reports::TargetInfo,
    started_at: chrono::DateTime<chrono::Utc>,
    result: flowgate_reports::LoadResult,
    selection: flowgate_reports::Selection,
) -> RunReport {
    let mut report = RunReport::new(target, GatingPolicy { fail_on: None }, started_at);
    report.finished_at = chrono::Utc::now();
    report.duration_ms = u64::try_from(
        (report.finished_at - report.started_at)
            .num_milliseconds()
            .max(0),
    )
    .unwrap_or(0);
    report.load.push(result);
    report.selection = selection;
    crate::build_info::stamp(&mut report);
    report
}
