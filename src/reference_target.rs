//! The reference server as a target: started in-process on a fresh database and a free
//! loopback port, with two provisioned client accounts and the `${env:…}`/`${secret:…}`
//! values the suite's profiles read. `validate` and `selfcheck` both run the suite
//! against one.
//!
//! Without a database URL the server uses a SQLite file in a temporary folder that is
//! removed afterwards. With a `postgres://` URL, a fresh database with a unique name is
//! created next to the one the URL names and dropped at the end, so a run never sees
//! another run's flows and never leaves data behind in a database someone else uses.

use crate::exit::CliError;
use flowgate_harness::{
    run_suite, EnvMap, Layered, PlaceholderEnv, ProcessEnv, Profile, RunOptions, Suite,
};
use flowgate_reports::RunReport;
use flowgate_server::catalogue::RetryPolicy;
use flowgate_server::defects::Defects;
use flowgate_server::{provision_tenant, ServerConfig, ServerError, TenantCredentials};
use sqlx::Connection;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// The profile `flowgate validate` uses for the conformance suite.
pub(crate) const REFERENCE_PROFILE: &str = "reference.target.yaml";
/// The profile of the seed suite (`scenarios/seed`).
pub(crate) const SEED_PROFILE: &str = "seed.target.yaml";

/// The suite `validate` and `selfcheck` run (`--suite`, else the default) and its profile
/// (`--target`, else the nearest reference or seed profile), read and checked against the
/// profile with placeholder values — every file error is found before a server starts.
pub(crate) fn read_reference_suite(
    suite: Option<&Path>,
    target: Option<&Path>,
) -> Result<(PathBuf, PathBuf, Suite), CliError> {
    let suite_dir = resolve_suite_dir(suite)?;
    let profile_path = match target {
        Some(p) => p.to_path_buf(),
        None => find_profile(&suite_dir)?,
    };
    let suite = Suite::read(std::slice::from_ref(&suite_dir)).map_err(CliError::invalid)?;
    let placeholder = Profile::read(&profile_path, &PlaceholderEnv).map_err(CliError::invalid)?;
    suite
        .validate_against(&placeholder)
        .map_err(CliError::invalid)?;
    Ok((suite_dir, profile_path, suite))
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

    /// Loads the profile with this server's values and runs the suite against it.
    /// Returns the report and the profile (whose masker hides the keys in any output).
    pub(crate) async fn run(
        &self,
        suite: &Suite,
        profile_path: &Path,
        opts: RunOptions,
    ) -> Result<(RunReport, Profile), CliError> {
        let env = Layered(self.env(), ProcessEnv);
        let profile = Profile::read(profile_path, &env).map_err(CliError::invalid)?;
        suite
            .validate_against(&profile)
            .map_err(CliError::invalid)?;
        let report = run_suite(suite, &profile, opts).await;
        Ok((report, profile))
    }

    /// `reference server on URL (database, defects: …)`, as the commands print it.
    pub(crate) fn describe(&self) -> String {
        format!(
            "reference server on {} ({}{})",
            self.base_url,
            self.database_label(),
            if self.defect_names.is_empty() {
                String::new()
            } else {
                format!(", defects: {}", self.defect_names.join(", "))
            }
        )
    }

    pub(crate) fn database_label(&self) -> String {
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
}
