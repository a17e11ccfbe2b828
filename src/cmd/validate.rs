//! `flowgate validate`: start the reference server in-process on a fresh database and a
//! free loopback port, provision the tenants the suite's profile needs, run the suite
//! against it, write the reports and exit like `flowgate run`.
//!
//! Zero setup: without `--database-url` the server uses a SQLite file in a temporary
//! folder that is removed afterwards. With a `postgres://` URL, a fresh database with a
//! unique name is created next to the one the URL names and dropped at the end, so a run
//! never sees another run's flows (the suite's list and isolation checks rely on that)
//! and never leaves data behind in a database someone else uses.
//!
//! The server itself is [`crate::reference_target::ReferenceTarget`].

use crate::exit::{CliError, CmdResult, INVALID};
use crate::reference_target::{read_reference_suite, ReferenceTarget};
use flowgate_harness::console::{failure_details, ConsoleProgress};
use flowgate_harness::{RunOptions, Suite};
use flowgate_server::defects::Defects;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Load phases inside `validate` use at most this many users...
const VALIDATE_LOAD_MAX_USERS: usize = 20;
/// ...for at most this long.
const VALIDATE_LOAD_MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Write the reports (report.md, junit.xml, report.json, report.html) into this folder.
    #[arg(long, default_value = "flowgate-out")]
    out: PathBuf,
    #[command(flatten)]
    reference: super::ReferenceArgs,
    /// Start the reference server with this injected defect (repeatable), e.g.
    /// `--defect stuck-flows --defect tenant-leak --defect opaque-errors`.
    #[arg(long = "defect")]
    defects: Vec<String>,
    #[command(flatten)]
    select: super::SelectArgs,
}

pub async fn run(args: ValidateArgs) -> CmdResult {
    // Everything that can be wrong with the command line, the suite or the profile is
    // found before the server starts (exit 2, nothing sent).
    if args.select.jobs == 0 {
        return Err(CliError::invalid("--jobs must be at least 1"));
    }
    let policy =
        flowgate_reports::parse_fail_on(&args.select.fail_on).map_err(CliError::invalid)?;
    let defects = Defects::parse(&args.defects).map_err(CliError::invalid)?;
    let (suite_dir, profile_path, suite) = read_reference_suite(
        args.reference.suite.as_deref(),
        args.reference.target.as_deref(),
    )?;

    println!(
        "flowgate validate: suite {} ({} scenarios), profile {}",
        suite_dir.display(),
        suite.scenarios.len(),
        profile_path.display()
    );
    let target = ReferenceTarget::start(args.reference.database_url.as_deref(), defects).await?;
    println!("{}", target.describe());

    let outcome = tokio::select! {
        r = run_checks(&args, &suite, &profile_path, &target, policy.fail_on) => r,
        _ = tokio::signal::ctrl_c() => Err(CliError::infra("interrupted; the reference server was stopped")),
    };
    target.stop().await;
    outcome
}

async fn run_checks(
    args: &ValidateArgs,
    suite: &Suite,
    profile_path: &Path,
    target: &ReferenceTarget,
    fail_on: Option<flowgate_reports::Severity>,
) -> CmdResult {
    let opts = RunOptions {
        tags: args.select.tags.clone(),
        skip_tags: args.select.skip_tags.clone(),
        names: args.select.names.clone(),
        jobs: args.select.jobs,
        fail_fast: false,
        fail_on,
        progress: Some(Arc::new(ConsoleProgress::new(args.select.quiet))),
        waivers: None,
        only_ids: None,
        certify: false,
        min_coverage: None,
        history_file: args.select.history.clone(),
        // validate is a gate, not a soak: load phases run short and bounded here
        // (`flowgate load` runs them as declared).
        load_runner: Some(Arc::new(flowgate_load::GooseLoadRunner {
            overrides: flowgate_load::Overrides {
                max_users: Some(VALIDATE_LOAD_MAX_USERS),
                max_duration: Some(VALIDATE_LOAD_MAX_DURATION),
                ..Default::default()
            },
            options: flowgate_load::LoadOptions {
                progress: !args.select.quiet,
                stop_early: true,
                ..Default::default()
            },
        })),
    };
    let (mut report, profile) = target.run(suite, profile_path, opts).await?;
    crate::build_info::stamp(&mut report);
    print!("{}", profile.masker.mask(&failure_details(&report)));
    let secrets: Vec<String> = profile.masker.secrets().to_vec();
    super::write_reports(&report, &args.out, &secrets)?;
    Ok(u8::try_from(report.exit_code()).unwrap_or(INVALID))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference_target::{
        find_profile, resolve_suite_dir, REFERENCE_PROFILE, SEED_PROFILE,
    };
    use flowgate_reports::RunReport;

    /// One in-process run at a time: the suite has latency limits, and the machine has
    /// two cores.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Runs a suite folder of the repository against a fresh reference server.
    async fn run_repo_suite(sub: &str, database_url: Option<&str>, defects: &[&str]) -> RunReport {
        let _guard = SERIAL.lock().await;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let dir = if sub.is_empty() { root } else { root.join(sub) };
        let suite = Suite::read(std::slice::from_ref(&dir)).expect("the suite loads");
        let profile = find_profile(&dir).expect("a profile");
        let defects = Defects::parse(defects).expect("known defects");
        let target = ReferenceTarget::start(database_url, defects)
            .await
            .expect("the reference server starts");
        let opts = RunOptions {
            jobs: 4,
            ..RunOptions::default()
        };
        let result = target.run(&suite, &profile, opts).await;
        target.stop().await;
        result.expect("the profile loads").0
    }

    fn failed(report: &RunReport) -> Vec<String> {
        report
            .scenarios
            .iter()
            .filter(|s| s.outcome != flowgate_reports::Outcome::Passed)
            .filter(|s| s.outcome != flowgate_reports::Outcome::Skipped)
            .map(|s| format!("{} ({:?})", s.name, s.outcome))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_whole_suite_passes_on_sqlite() {
        let report = run_repo_suite("", None, &[]).await;
        assert_eq!(failed(&report), Vec::<String>::new());
        assert!(report.summary().passed >= 50, "{:?}", report.summary());
        assert_eq!(report.exit_code(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_whole_suite_passes_on_postgres() {
        let Some(url) = flowgate_testkit::postgres_server_url() else {
            return;
        };
        let report = run_repo_suite("", Some(&url), &[]).await;
        assert_eq!(failed(&report), Vec::<String>::new());
        assert_eq!(report.exit_code(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_seed_suite_passes_eight_of_eight() {
        let report = run_repo_suite("seed", None, &[]).await;
        let s = report.summary();
        assert_eq!((s.total, s.passed), (8, 8), "{:?}", failed(&report));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_seed_defects_reproduce_the_seed_report() {
        let report = run_repo_suite(
            "seed",
            None,
            &["stuck-flows", "tenant-leak", "opaque-errors"],
        )
        .await;
        let s = report.summary();
        assert_eq!((s.total, s.passed, s.failed), (8, 5, 3));
        assert!((s.success_rate() - 62.5).abs() < 1e-9);
        let mut failed: Vec<(String, flowgate_reports::Severity)> = report
            .scenarios
            .iter()
            .filter(|r| r.outcome == flowgate_reports::Outcome::Failed)
            .map(|r| (r.name.clone(), r.severity))
            .collect();
        failed.sort();
        use flowgate_reports::Severity::{Critical, Moderate};
        assert_eq!(
            failed,
            vec![
                ("Discovery Flow Execution".to_string(), Critical),
                ("Error Handling".to_string(), Moderate),
                ("Multi-tenant Isolation".to_string(), Critical),
            ]
        );
        assert_eq!(report.exit_code(), 1);

        // The sign-off report itself, with what changes from run to run redacted.
        let markdown = flowgate_reports::render_markdown(&report);
        insta::with_settings!({filters => vec![
            (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[uuid]"),
            (r"http://127\.0\.0\.1:\d+", "http://[addr]"),
            (r"\d{4}-\d{2}-\d{2}", "[date]"),
            // measured latencies (the targets stay), and how long a poll watched
            (r"\| \d+(\.\d+)? ms \|", "| [latency] |"),
            (r"for \d+(\.\d+)? s\b", "for [duration]"),
            (r"\(\d+ requests\)", "([n] requests)"),
            (r"flowgate \d+\.\d+\.\d+", "flowgate [version]"),
            (r"v\d+\.\d+\.\d+", "v[version]"),
            (r"version \d+\.\d+\.\d+", "version [version]"),
            (r"\d{2}:\d{2}:\d{2} UTC", "[time] UTC"),
            (r"\| \d+(\.\d+)? s \|", "| [duration] |"),
            (r"sha256:[0-9a-f]{16}", "sha256:[digest]"),
            (r"\(commit [0-9a-f]+\)", "(commit [commit])"),
        ]}, {
            insta::assert_snapshot!("seed_reproduction_report", markdown);
        });
    }

    #[test]
    fn the_repository_suite_and_profiles_are_found() {
        let suite = resolve_suite_dir(None).expect("suite folder");
        assert!(suite.join(REFERENCE_PROFILE).is_file());
        assert!(find_profile(&suite)
            .expect("profile")
            .ends_with(REFERENCE_PROFILE));
        assert!(find_profile(&suite.join("seed"))
            .expect("seed profile")
            .ends_with(SEED_PROFILE));
        assert!(find_profile(&suite.join("error_handling"))
            .expect("parent profile")
            .ends_with(REFERENCE_PROFILE));
    }
}
