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
//! [`ReferenceTarget`] is the reusable part (also what `selfcheck` needs): a running
//! reference server with its tenants and the `${env:…}`/`${secret:…}` values of the
//! profiles in `scenarios/`.

use crate::exit::{CliError, CmdResult, INVALID};
use flowgate_harness::console::{failure_details, ConsoleProgress};
use flowgate_harness::{run_suite, EnvMap, Layered, ProcessEnv, Profile, RunOptions, Suite};
use flowgate_reports::RunReport;
use flowgate_server::defects::Defects;
use flowgate_server::flows::catalogue::RetryPolicy;
use flowgate_server::{provision_tenant, ServerConfig, ServerError, TenantCredentials};
use sqlx::Connection;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Load phases inside `validate` use at most this many users...
const VALIDATE_LOAD_MAX_USERS: usize = 20;
/// ...for at most this long.
const VALIDATE_LOAD_MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(10);

/// The profile `flowgate validate` uses for the conformance suite.
const REFERENCE_PROFILE: &str = "reference.target.yaml";
/// The profile of the seed suite (`scenarios/seed`).
const SEED_PROFILE: &str = "seed.target.yaml";

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Write the reports (report.md, junit.xml, report.json, report.html) into this folder.
    #[arg(long, default_value = "flowgate-out")]
    out: PathBuf,
    /// Run the reference server on this database instead of a temporary SQLite file:
    /// `postgres://...` (a fresh database is created beside the named one and dropped at
    /// the end; the user needs CREATEDB) or `sqlite://PATH` (used as it is).
    #[arg(long)]
    database_url: Option<String>,
    /// The suite folder (default: `scenarios` in the current directory, else the one of
    /// the flowgate source tree).
    #[arg(long)]
    suite: Option<PathBuf>,
    /// The target profile (default: `reference.target.yaml`, or `seed.target.yaml`, in the
    /// suite folder or the nearest folder above it).
    #[arg(long)]
    target: Option<PathBuf>,
    /// Start the reference server with this injected defect (repeatable), e.g.
    /// `--defect stuck-flows --defect tenant-leak --defect opaque-errors`.
    #[arg(long = "defect")]
    defects: Vec<String>,
    /// Run only scenarios with this tag (repeatable; any of them).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Leave out scenarios with this tag (repeatable).
    #[arg(long = "skip-tag")]
    skip_tags: Vec<String>,
    /// Run only scenarios whose name or id contains this text (repeatable).
    #[arg(long = "name")]
    names: Vec<String>,
    /// Failures of this severity or worse fail the run: critical|high|moderate|low|any.
    #[arg(long, default_value = "any")]
    fail_on: String,
    /// Scenarios run at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub async fn run(args: ValidateArgs) -> CmdResult {
    // Everything that can be wrong with the command line, the suite or the profile is
    // found before the server starts (exit 2, nothing sent).
    if args.jobs == 0 {
        return Err(CliError::invalid("--jobs must be at least 1"));
    }
    let policy = flowgate_reports::parse_fail_on(&args.fail_on).map_err(CliError::invalid)?;
    let defects = Defects::parse(&args.defects).map_err(CliError::invalid)?;
    let suite_dir = resolve_suite_dir(args.suite.as_deref())?;
    let profile_path = match &args.target {
        Some(p) => p.clone(),
        None => find_profile(&suite_dir)?,
    };
    let suite = Suite::load(std::slice::from_ref(&suite_dir)).map_err(CliError::invalid)?;
    let placeholder_env = Layered(ReferenceTarget::placeholder_env(), ProcessEnv);
    let placeholder = Profile::load(&profile_path, &placeholder_env).map_err(CliError::invalid)?;
    suite
        .validate_against(&placeholder)
        .map_err(CliError::invalid)?;

    println!(
        "flowgate validate: suite {} ({} scenarios), profile {}",
        suite_dir.display(),
        suite.scenarios.len(),
        profile_path.display()
    );
    let target = ReferenceTarget::start(args.database_url.as_deref(), defects).await?;
    println!(
        "reference server on {} ({}{})",
        target.base_url,
        target.database_label(),
        if target.defect_names.is_empty() {
            String::new()
        } else {
            format!(", defects: {}", target.defect_names.join(", "))
        }
    );

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
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        names: args.names.clone(),
        jobs: args.jobs,
        fail_fast: false,
        fail_on,
        progress: Some(Arc::new(ConsoleProgress::new(args.quiet))),
        // validate is a gate, not a soak: load phases run short and bounded here
        // (`flowgate load` runs them as declared).
        load_runner: Some(Arc::new(flowgate_load::GooseLoadRunner {
            overrides: flowgate_load::Overrides {
                max_users: Some(VALIDATE_LOAD_MAX_USERS),
                max_duration: Some(VALIDATE_LOAD_MAX_DURATION),
                ..Default::default()
            },
            ..Default::default()
        })),
    };
    let (report, profile) = target.run(suite, profile_path, opts).await?;
    if report.scenarios.is_empty() && report.load.is_empty() {
        eprintln!("warning: no scenario matched the filters");
    }
    print!("{}", profile.masker.mask(&failure_details(&report)));
    let secrets: Vec<String> = profile.masker.secrets().to_vec();
    let written = flowgate_reports::write_all_redacted(&report, &args.out, &secrets)
        .map_err(|e| CliError::infra(format!("cannot write the reports: {e}")))?;
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(INVALID))
}

/// `--suite`, else `./scenarios`, else the `scenarios` folder of the source tree this
/// binary was built from (so `cargo run -- validate` works from anywhere in the repo).
pub(crate) fn resolve_suite_dir(given: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(p) = given {
        if p.is_dir() {
            return Ok(p.to_path_buf());
        }
        return Err(CliError::invalid(format!(
            "--suite {}: no such folder",
            p.display()
        )));
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return Ok(local);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    if built.is_dir() {
        return Ok(built);
    }
    Err(CliError::invalid(
        "no `scenarios` folder here or in the flowgate source tree; pass --suite DIR",
    ))
}

/// The profile for a suite folder: `reference.target.yaml`, else `seed.target.yaml`, in
/// the folder or the nearest one above it (so `--suite scenarios/error_handling` uses
/// `scenarios/reference.target.yaml`).
pub(crate) fn find_profile(suite_dir: &Path) -> Result<PathBuf, CliError> {
    let start = std::fs::canonicalize(suite_dir).unwrap_or_else(|_| suite_dir.to_path_buf());
    for dir in start.ancestors() {
        for name in [REFERENCE_PROFILE, SEED_PROFILE] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(CliError::invalid(format!(
        "no {REFERENCE_PROFILE} or {SEED_PROFILE} in {} or above it; pass --target PROFILE",
        suite_dir.display()
    )))
}

/// The retry policy of the in-process server: the original's 3 attempts with millisecond
/// delays, so that the fault scenarios take milliseconds instead of seconds.
const FAST_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    initial_delay_ms: 10,
    multiplier: 2,
    max_delay_ms: 100,
};

/// Where the in-process server keeps its data, and what to clean up afterwards.
enum Storage {
    /// A SQLite file in a temporary folder, removed on drop.
    TempSqlite(tempfile::TempDir),
    /// A database the user named (`sqlite://PATH`), used as it is.
    Given,
    /// A fresh PostgreSQL database: dropped at the end through `admin_url`.
    FreshPostgres { admin_url: String, name: String },
}

/// A running reference server with two provisioned client accounts: A (engagements
/// `default` and `second`) and B (`default`).
pub(crate) struct ReferenceTarget {
    pub(crate) base_url: String,
    pub(crate) defect_names: Vec<&'static str>,
    tenant_a: TenantCredentials,
    tenant_b: TenantCredentials,
    storage: Storage,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl ReferenceTarget {
    /// Builds the server on a fresh database (see the module docs), binds 127.0.0.1:0,
    /// provisions the tenants and starts serving. Simulated faults are allowed and
    /// retries are fast.
    pub(crate) async fn start(
        database_url: Option<&str>,
        defects: Defects,
    ) -> Result<ReferenceTarget, CliError> {
        let (url, storage) = prepare_database(database_url).await?;
        match Running::start(&url, defects).await {
            Ok(r) => Ok(ReferenceTarget {
                base_url: r.base_url,
                defect_names: r.defect_names,
                tenant_a: r.tenant_a,
                tenant_b: r.tenant_b,
                storage,
                stop: r.stop,
                task: r.task,
            }),
            Err(e) => {
                cleanup_storage(storage).await;
                Err(e)
            }
        }
    }

    /// The values of the `${env:…}` / `${secret:…}` references of `reference.target.yaml`
    /// and `seed/seed.target.yaml` for this server.
    pub(crate) fn env(&self) -> EnvMap {
        let mut m = HashMap::new();
        m.insert("FLOWGATE_BASE_URL".to_string(), self.base_url.clone());
        m.insert("FLOWGATE_SEED_BASE_URL".to_string(), self.base_url.clone());
        // The reference profile calls the tenants A and B, the seed profile clients 1 and 2.
        for (prefixes, t) in [
            (["FLOWGATE_TENANT_A", "FLOWGATE_CLIENT_1"], &self.tenant_a),
            (["FLOWGATE_TENANT_B", "FLOWGATE_CLIENT_2"], &self.tenant_b),
        ] {
            for prefix in prefixes {
                let engagement = t.engagements.first().map(|e| e.id.to_string());
                m.insert(format!("{prefix}_KEY"), t.api_key.clone());
                m.insert(format!("{prefix}_ACCOUNT"), t.client_account_id.to_string());
                m.insert(
                    format!("{prefix}_ENGAGEMENT"),
                    engagement.unwrap_or_default(),
                );
            }
        }
        if let Some(second) = self.tenant_a.engagements.get(1) {
            m.insert(
                "FLOWGATE_TENANT_A_OTHER_ENGAGEMENT".to_string(),
                second.id.to_string(),
            );
        }
        EnvMap(m)
    }

    /// The same names with stand-in values: lets the profile be loaded and the suite
    /// checked against it before any server starts.
    pub(crate) fn placeholder_env() -> EnvMap {
        let names = [
            "FLOWGATE_BASE_URL",
            "FLOWGATE_SEED_BASE_URL",
            "FLOWGATE_TENANT_A_KEY",
            "FLOWGATE_TENANT_A_ACCOUNT",
            "FLOWGATE_TENANT_A_ENGAGEMENT",
            "FLOWGATE_TENANT_A_OTHER_ENGAGEMENT",
            "FLOWGATE_TENANT_B_KEY",
            "FLOWGATE_TENANT_B_ACCOUNT",
            "FLOWGATE_TENANT_B_ENGAGEMENT",
            "FLOWGATE_CLIENT_1_KEY",
            "FLOWGATE_CLIENT_1_ACCOUNT",
            "FLOWGATE_CLIENT_1_ENGAGEMENT",
            "FLOWGATE_CLIENT_2_KEY",
            "FLOWGATE_CLIENT_2_ACCOUNT",
            "FLOWGATE_CLIENT_2_ENGAGEMENT",
        ];
        let mut m: HashMap<String, String> = names
            .iter()
            .map(|n| (n.to_string(), format!("placeholder-{}", n.to_lowercase())))
            .collect();
        m.insert("FLOWGATE_BASE_URL".into(), "http://127.0.0.1:9".into());
        m.insert("FLOWGATE_SEED_BASE_URL".into(), "http://127.0.0.1:9".into());
        EnvMap(m)
    }

    /// Loads the profile with this server's values and runs the suite against it.
    /// Returns the report and the profile (whose masker hides the keys in any output).
    pub(crate) async fn run(
        &self,
        suite: &Suite,
        profile_path: &Path,
        opts: RunOptions,
    ) -> Result<(RunReport, Profile), CliError> {
        let env = Layered(self.env(), ProcessEnv);
        let profile = Profile::load(profile_path, &env).map_err(CliError::invalid)?;
        suite
            .validate_against(&profile)
            .map_err(CliError::invalid)?;
        let report = run_suite(suite, &profile, opts).await;
        Ok((report, profile))
    }

    fn database_label(&self) -> String {
        match &self.storage {
            Storage::TempSqlite(dir) => format!("temporary SQLite in {}", dir.path().display()),
            Storage::Given => "the given database".to_string(),
            Storage::FreshPostgres { name, .. } => format!("fresh PostgreSQL database {name}"),
        }
    }

    /// Stops the server (draining requests and the engine) and removes the temporary
    /// database.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: the reference server stopped with an error: {e}"),
            Err(e) => eprintln!("warning: the reference server task failed: {e}"),
        }
        cleanup_storage(self.storage).await;
    }
}

/// The server part of a [`ReferenceTarget`], before its storage is attached.
struct Running {
    base_url: String,
    defect_names: Vec<&'static str>,
    tenant_a: TenantCredentials,
    tenant_b: TenantCredentials,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl Running {
    async fn start(url: &str, defects: Defects) -> Result<Running, CliError> {
        let defect_names = defects.names();
        let config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: url.to_string(),
            defects,
            allow_simulated_faults: true,
            workers: 4,
            retry_policy: Some(FAST_RETRY),
            ..ServerConfig::default()
        };
        let app = flowgate_server::build(config)
            .await
            .map_err(|e| CliError::infra(format!("cannot start the reference server: {e}")))?;
        let db = app.db().clone();
        let provision = |name: &'static str, engagements: &'static [&'static str]| {
            let db = db.clone();
            async move {
                provision_tenant(&db, name, engagements)
                    .await
                    .map_err(|e| CliError::infra(format!("cannot provision tenant {name}: {e}")))
            }
        };
        let tenant_a = provision("flowgate-validate-tenant-a", &["default", "second"]).await?;
        let tenant_b = provision("flowgate-validate-tenant-b", &["default"]).await?;
        if tenant_a.engagements.len() < 2 || tenant_b.engagements.is_empty() {
            return Err(CliError::infra(
                "the reference server provisioned fewer engagements than asked for",
            ));
        }
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| CliError::infra(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::infra(format!("cannot read the listening address: {e}")))?;
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let task = tokio::spawn(app.serve(listener, async move { signal.cancelled().await }));
        Ok(Running {
            base_url: format!("http://{addr}"),
            defect_names,
            tenant_a,
            tenant_b,
            stop,
            task,
        })
    }
}

/// Picks the database URL of the run and creates what is needed.
async fn prepare_database(given: Option<&str>) -> Result<(String, Storage), CliError> {
    match given {
        None => {
            let dir = tempfile::Builder::new()
                .prefix("flowgate-validate-")
                .tempdir()
                .map_err(|e| CliError::infra(format!("cannot create a temporary folder: {e}")))?;
            let url = format!("sqlite://{}", dir.path().join("flowgate.db").display());
            Ok((url, Storage::TempSqlite(dir)))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let name = format!("flowgate_validate_{}", uuid::Uuid::new_v4().simple());
            let fresh = with_database_name(url, &name);
            let mut admin = sqlx::PgConnection::connect(url).await.map_err(|e| {
                CliError::infra(format!("cannot connect to {}: {e}", redact_url(url)))
            })?;
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut admin)
                .await
                .map_err(|e| {
                    CliError::infra(format!(
                        "cannot create the database {name} (the user of --database-url needs CREATEDB): {e}"
                    ))
                })?;
            let _ = admin.close().await;
            Ok((
                fresh,
                Storage::FreshPostgres {
                    admin_url: url.to_string(),
                    name,
                },
            ))
        }
        Some(url) if url.starts_with("sqlite:") => Ok((url.to_string(), Storage::Given)),
        Some(url) => Err(CliError::invalid(format!(
            "unsupported --database-url `{}`: use postgres://... or sqlite://PATH",
            redact_url(url)
        ))),
    }
}

async fn cleanup_storage(storage: Storage) {
    match storage {
        Storage::TempSqlite(dir) => {
            if let Err(e) = dir.close() {
                eprintln!("warning: cannot remove the temporary database folder: {e}");
            }
        }
        Storage::Given => {}
        Storage::FreshPostgres { admin_url, name } => {
            let dropped = async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            }
            .await;
            if let Err(e) = dropped {
                eprintln!("warning: cannot drop the database {name}: {e}");
            }
        }
    }
}

/// `postgres://user@host:5432/db?opts` with its database name replaced by `name`.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..authority_end])
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => {
                format!("{}{user}:***{}", &url[..scheme_end], &rest[at..])
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_keeping_host_and_options() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    /// One in-process run at a time: the suite has latency limits, and the machine has
    /// two cores.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// Runs a suite folder of the repository against a fresh reference server.
    async fn run_repo_suite(sub: &str, database_url: Option<&str>, defects: &[&str]) -> RunReport {
        let _guard = SERIAL.lock().await;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let dir = if sub.is_empty() { root } else { root.join(sub) };
        let suite = Suite::load(std::slice::from_ref(&dir)).expect("the suite loads");
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
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
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
