//! Which PostgreSQL the tests use, and a fresh database per test.
//!
//! The choice, made once per test process ([`choose`]):
//! 1. `DATABASE_URL` set: that server (the user asked for it; unreachable is a failure);
//! 2. else something listening on `127.0.0.1:5432`: that server as `postgres` (trust auth),
//!    which is how CI and these machines run;
//! 3. else a reachable Docker engine: `postgres:15` started through testcontainers, in one
//!    container named `flowgate-test-postgres` that later runs reuse (remove it with
//!    `docker rm -f flowgate-test-postgres`);
//! 4. else the PostgreSQL tests are skipped, said in one line on the terminal (not in the
//!    captured test output) — and under `CI=true` they fail instead: a CI run that tested
//!    nothing must not pass.
//!
//! Every test gets its own database ([`TestDatabase`]), dropped when the guard goes, also
//! when the test panics.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

/// The server the tests use when `DATABASE_URL` is unset and one listens locally.
pub const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Name of the reused testcontainers container.
pub const CONTAINER_NAME: &str = "flowgate-test-postgres";

/// Where the PostgreSQL tests get their server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresSource {
    /// `DATABASE_URL`, as the user set it.
    Configured(String),
    /// [`LOCAL_POSTGRES`]: nothing configured, a server listens on 127.0.0.1:5432.
    Local,
    /// `postgres:15` through testcontainers.
    Docker,
    /// Nothing to test on; the reason says what was looked for.
    Unavailable(String),
}

/// The selection rule, apart from the probing so that it can be tested.
pub fn choose(
    database_url: Option<&str>,
    local_listening: bool,
    docker_reachable: bool,
) -> PostgresSource {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => PostgresSource::Configured(url.to_string()),
        None if local_listening => PostgresSource::Local,
        None if docker_reachable => PostgresSource::Docker,
        None => PostgresSource::Unavailable(
            "DATABASE_URL is unset, nothing listens on 127.0.0.1:5432, and no Docker engine \
             is reachable (DOCKER_HOST, /var/run/docker.sock, ~/.docker/run/docker.sock)"
                .to_string(),
        ),
    }
}

/// What a test does when there is no PostgreSQL: skip (`Ok`), or fail under CI (`Err`).
pub fn on_unavailable(reason: &str, ci: bool) -> Result<String, String> {
    if ci {
        Err(format!(
            "CI=true and no PostgreSQL to test on: {reason}. Start PostgreSQL or set DATABASE_URL."
        ))
    } else {
        Ok(format!(
            "flowgate-testkit: SKIPPING the PostgreSQL tests of this binary: {reason}. \
             Set DATABASE_URL, start PostgreSQL on 127.0.0.1:5432, or start Docker."
        ))
    }
}

/// Where a Docker engine would answer, from `DOCKER_HOST` or the usual socket paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEndpoint {
    Unix(std::path::PathBuf),
    Tcp(String),
}

/// Reads `DOCKER_HOST` (`unix:///path`, `tcp://host:port`); without it, the default
/// socket and Docker Desktop's.
pub fn docker_endpoints(docker_host: Option<&str>, home: Option<&str>) -> Vec<DockerEndpoint> {
    if let Some(host) = docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        if let Some(path) = host.strip_prefix("unix://") {
            return vec![DockerEndpoint::Unix(path.into())];
        }
        if let Some(addr) = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .or_else(|| host.strip_prefix("https://"))
        {
            return vec![DockerEndpoint::Tcp(addr.trim_end_matches('/').to_string())];
        }
        return Vec::new();
    }
    let mut out = vec![DockerEndpoint::Unix("/var/run/docker.sock".into())];
    if let Some(home) = home {
        out.push(DockerEndpoint::Unix(
            std::path::Path::new(home).join(".docker/run/docker.sock"),
        ));
    }
    out
}

fn answers(endpoint: &DockerEndpoint) -> bool {
    match endpoint {
        #[cfg(unix)]
        DockerEndpoint::Unix(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
        #[cfg(not(unix))]
        DockerEndpoint::Unix(_) => false,
        DockerEndpoint::Tcp(addr) => tcp_listening(addr),
    }
}

fn tcp_listening(addr: &str) -> bool {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(500)).is_ok())
}

/// Probes the machine and applies [`choose`].
pub fn detect() -> PostgresSource {
    let url = std::env::var("DATABASE_URL").ok();
    let configured = url.as_deref().is_some_and(|u| !u.trim().is_empty());
    let local = !configured && tcp_listening("127.0.0.1:5432");
    let docker = !configured
        && !local
        && docker_endpoints(
            std::env::var("DOCKER_HOST").ok().as_deref(),
            std::env::var("HOME").ok().as_deref(),
        )
        .iter()
        .any(answers);
    choose(url.as_deref(), local, docker)
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Starts (or reuses) the container, on a thread of its own: testcontainers' blocking
/// runner has its own runtime, and tests call this from inside theirs.
fn start_container() -> Result<String, String> {
    std::thread::spawn(|| {
        use testcontainers::runners::SyncRunner;
        use testcontainers::{ImageExt, ReuseDirective};
        let container = testcontainers_modules::postgres::Postgres::default()
            .with_host_auth()
            .with_tag("15")
            .with_container_name(CONTAINER_NAME)
            .with_reuse(ReuseDirective::Always)
            .start()
            .map_err(|e| format!("could not start postgres:15 through testcontainers: {e}"))?;
        let host = container
            .get_host()
            .map_err(|e| format!("testcontainers: no host for the container: {e}"))?;
        let port = container
            .get_host_port_ipv4(5432)
            .map_err(|e| format!("testcontainers: port 5432 not mapped: {e}"))?;
        // Dropping a container marked for reuse leaves it running, for the next test binary.
        drop(container);
        Ok(format!("postgres://postgres@{host}:{port}/postgres"))
    })
    .join()
    .map_err(|_| "the testcontainers thread panicked".to_string())?
}

/// The server URL the PostgreSQL tests of this process use, or `None` when there is none
/// (said once, on the terminal). Panics under `CI=true` when there is none, and when the
/// Docker engine is there but the container does not start.
pub fn postgres_server_url() -> Option<String> {
    static CHOSEN: OnceLock<Result<Option<String>, String>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| match detect() {
        PostgresSource::Configured(url) => Ok(Some(url)),
        PostgresSource::Local => Ok(Some(LOCAL_POSTGRES.to_string())),
        PostgresSource::Docker => start_container().map(Some),
        PostgresSource::Unavailable(reason) => on_unavailable(&reason, is_ci()).map(|line| {
            // Straight to the terminal: the harness would hide a println! of a passing test.
            let _ = writeln!(std::io::stderr(), "{line}");
            None
        }),
    });
    match chosen {
        Ok(url) => url.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// A database of its own on the chosen server, dropped (connections and all) with the guard.
pub struct TestDatabase {
    name: String,
    url: String,
    server_url: String,
}

impl TestDatabase {
    /// A fresh database named `<prefix>_<uuid>`; `None` when the tests are skipped.
    pub async fn create(prefix: &str) -> Option<TestDatabase> {
        let server_url = postgres_server_url()?;
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server_url} is not reachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        admin.close().await;
        let url = with_database(&server_url, &name);
        Some(TestDatabase {
            name,
            url,
            server_url,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool on the database (as `#[sqlx::test]` gave: up to 10 connections).
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }
}

/// The URL of database `name` on the server of `server_url` (query string kept).
pub fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let server_url = self.server_url.clone();
        // Drop runs inside the test's runtime (or while it unwinds): a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&server_url)
                    .await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_url_wins_even_over_a_local_server_and_docker() {
        assert_eq!(
            choose(Some("postgres://db.example/x"), true, true),
            PostgresSource::Configured("postgres://db.example/x".into())
        );
    }

    #[test]
    fn without_a_url_the_local_server_comes_before_docker() {
        assert_eq!(choose(None, true, true), PostgresSource::Local);
        assert_eq!(choose(Some("  "), true, false), PostgresSource::Local);
    }

    #[test]
    fn without_a_url_or_a_local_server_docker_is_used() {
        assert_eq!(choose(None, false, true), PostgresSource::Docker);
    }

    #[test]
    fn with_nothing_the_tests_skip_saying_why_and_fail_under_ci() {
        let PostgresSource::Unavailable(reason) = choose(None, false, false) else {
            panic!("expected Unavailable");
        };
        assert!(reason.contains("DATABASE_URL") && reason.contains("Docker"));
        let skip = on_unavailable(&reason, false).expect("skips outside CI");
        assert!(skip.contains("SKIPPING") && !skip.contains('\n'), "{skip}");
        let fail = on_unavailable(&reason, true).expect_err("fails under CI");
        assert!(fail.contains("CI=true"), "{fail}");
    }

    #[test]
    fn docker_host_is_read_as_docker_reads_it() {
        assert_eq!(
            docker_endpoints(Some("unix:///run/user/1000/docker.sock"), Some("/h")),
            vec![DockerEndpoint::Unix("/run/user/1000/docker.sock".into())]
        );
        assert_eq!(
            docker_endpoints(Some("tcp://10.0.0.5:2375/"), None),
            vec![DockerEndpoint::Tcp("10.0.0.5:2375".into())]
        );
        assert_eq!(docker_endpoints(Some("ssh://me@host"), None), vec![]);
        assert_eq!(
            docker_endpoints(None, Some("/home/me")),
            vec![
                DockerEndpoint::Unix("/var/run/docker.sock".into()),
                DockerEndpoint::Unix("/home/me/.docker/run/docker.sock".into())
            ]
        );
    }

    #[test]
    fn a_socket_that_nobody_listens_on_is_not_an_engine() {
        let dir = std::env::temp_dir().join(format!("no-docker-{}", uuid::Uuid::new_v4()));
        assert!(!answers(&DockerEndpoint::Unix(dir.join("docker.sock"))));
    }

    #[test]
    fn database_urls_keep_their_server_and_options() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "t_2"),
            "postgres://u:p@h:1/t_2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t_3"), "postgres://h/t_3");
    }

    /// On this machine (CI included) the rule picks a server and a database works.
    #[tokio::test]
    async fn a_fresh_database_is_created_and_dropped() {
        let Some(db) = TestDatabase::create("flowgate_testkit").await else {
            return;
        };
        let name = db.name().to_string();
        let pool = db.pool().await;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&pool)
            .await
            .expect("select");
        assert_eq!(one, 1);
        pool.close().await;
        let server = postgres_server_url().expect("a server");
        drop(db);
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&server)
            .await
            .expect("admin");
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&admin)
            .await
            .expect("count");
        assert_eq!(left, 0, "the database is dropped with its guard");
    }
}
