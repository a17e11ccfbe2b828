//! flowgate-server: the reference Master Flow Orchestrator.
//!
//! [`build`] connects to the database (running migrations), starts the execution engine and
//! returns an [`App`] whose [`App::serve`] runs the HTTP API until a shutdown signal.
//! [`spawn_for_tests`] runs one on a free loopback port.

pub(crate) mod api;
pub mod domain;
pub mod engine;
pub mod phases;
pub(crate) mod store;

pub use domain::{catalogue, defects};
pub use store::{db, tenants};

use api::AppState;
use db::{Db, DbError};
use defects::Defects;
use domain::catalogue::RetryPolicy;
use engine::port::{EngineHooks, NoEngine};
use engine::EngineConfig;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use tenants::{provision_tenant, EngagementInfo, TenantCredentials, TenantError};

/// The server's version, as `/health` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything the server needs to start. `ServerConfig::default()` is the correct server on
/// `sqlite://flowgate.db` with no defect.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where `flowgate serve` listens (the `App` itself serves any listener it is given).
    pub listen: SocketAddr,
    /// `postgres://...` or `sqlite://PATH` (created when missing).
    pub database_url: String,
    /// Use this PostgreSQL pool instead of connecting to `database_url` (tests).
    pub pg_pool: Option<PgPool>,
    /// Maximum database connections of the pool.
    pub max_connections: u32,
    /// Largest accepted request body in bytes; larger is 413 `payload_too_large`.
    pub body_limit: usize,
    /// Injected defects (none by default).
    pub defects: Defects,
    /// Accept flows whose configuration asks for simulated faults.
    pub allow_simulated_faults: bool,
    /// Engine workers in this process (0: this process only serves the API).
    pub workers: u32,
    /// How long a worker's claim on a flow lasts without renewal.
    pub lease_duration: Duration,
    /// Overrides the phases' retry policy (tests use millisecond delays).
    pub retry_policy: Option<RetryPolicy>,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// A connection must deliver a request's whole header within this long (also the
    /// longest an idle keep-alive connection is kept); else it is closed.
    pub header_read_timeout: Duration,
    /// A request body must arrive within this long; else 408 `request_timeout`.
    pub body_read_timeout: Duration,
    /// Largest request target (path and query) in bytes; longer is 414 `uri_too_long`.
    pub max_uri_bytes: usize,
    /// Largest sum of header names and values in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most flows of one client account running a phase at once; None: all workers but
    /// one ([`EngineConfig::default_tenant_cap`]); Some(0): no cap.
    pub tenant_max_running: Option<u32>,
    /// Creates per second one client account may make (a token bucket refilled at this
    /// rate); more are answered 429 `rate_limited` with `Retry-After`. 0: no limit.
    pub tenant_create_rate: u32,
    /// How many creates a client account may make at once before the rate applies.
    pub tenant_create_burst: u32,
    /// How long an API key's account (and an engagement's owner) is remembered without
    /// asking the database; 0: always ask. A revoked key keeps working this long.
    pub auth_cache_ttl: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://flowgate.db".to_string(),
            pg_pool: None,
            max_connections: 16,
            body_limit: 1024 * 1024,
            defects: Defects::none(),
            allow_simulated_faults: false,
            workers: 4,
            lease_duration: Duration::from_secs(30),
            retry_policy: None,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            tenant_max_running: None,
            tenant_create_rate: 100,
            tenant_create_burst: 200,
            auth_cache_ttl: Duration::from_secs(30),
        }
    }
}

impl ServerConfig {
    /// A config on an existing PostgreSQL pool (e.g. from `flowgate_testkit::TestDatabase`).
    pub fn with_pg_pool(pool: PgPool) -> Self {
        ServerConfig {
            pg_pool: Some(pool),
            database_url: String::new(),
            ..ServerConfig::default()
        }
    }

    /// A config on a SQLite file.
    pub fn with_sqlite_path(path: &std::path::Path) -> Self {
        ServerConfig {
            database_url: format!("sqlite://{}", path.display()),
            ..ServerConfig::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A built server: database connected and migrated, engine started, ready to serve.
pub struct App {
    state: AppState,
    shutdown: CancellationToken,
}

/// Connects to the database, runs migrations and starts the engine.
pub async fn build(config: ServerConfig) -> Result<App, ServerError> {
    let db = match &config.pg_pool {
        Some(pool) => Db::from_pg_pool(pool.clone()).await?,
        None => Db::connect(&config.database_url, config.max_connections).await?,
    };
    let config = Arc::new(config);
    let shutdown = CancellationToken::new();
    let engine = start_engine(&db, &config, shutdown.clone());
    let directory = Arc::new(store::tenants::Directory::new(config.auth_cache_ttl));
    let create_rate =
        api::rate::CreateRate::new(config.tenant_create_rate, config.tenant_create_burst)
            .map(Arc::new);
    let new_flows = store::wakeups::NewFlowBell::start(&db, shutdown.clone()).map(Arc::new);
    let state = AppState::new(api::StateParts {
        db,
        defects: config.defects.clone(),
        config,
        engine,
        metrics: Arc::default(),
        directory,
        create_rate,
        new_flows,
    });
    Ok(App { state, shutdown })
}

/// The single place where the execution engine plugs into the server: the engine sees
/// its own configuration, never the server's.
fn start_engine(
    db: &Db,
    config: &ServerConfig,
    shutdown: CancellationToken,
) -> Arc<dyn EngineHooks> {
    if config.workers == 0 {
        return Arc::new(NoEngine);
    }
    let engine_config = EngineConfig {
        workers: config.workers,
        lease: config.lease_duration,
        retry_policy: config.retry_policy,
        allow_simulated_faults: config.allow_simulated_faults,
        max_running_per_tenant: config
            .tenant_max_running
            .unwrap_or_else(|| EngineConfig::default_tenant_cap(config.workers)),
        ..EngineConfig::default()
    };
    // Workers, the monitor and the scheduler's reads; the listener has its own.
    let engine_db = db.engine_pool(config.workers + 2);
    Arc::new(engine::start(
        engine_db,
        engine_config,
        &config.defects,
        shutdown,
        phases::HandlerRegistry::builtin(),
    ))
}

impl App {
    /// The HTTP API with all its middleware.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// The database the server uses.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight requests
    /// (for at most the request timeout) and stops the engine.
    ///
    /// The accept loop is hyper-util's rather than `axum::serve`'s because it needs a
    /// timer: without one, a connection that sends half a header, or nothing, stays open
    /// forever. hyper's own header limits are set above ours (`api::limits`), so an
    /// oversized request gets our problem+json 431/414 rather than a bare status line.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        let router = self.router();
        let config = self.state.config.clone();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size((config.max_header_bytes + config.max_uri_bytes).max(8192) * 2)
            .max_headers(api::error::MAX_HEADER_COUNT * 2);
        builder.http2().timer(TokioTimer::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, do not spin.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router.clone());
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    let first_byte = config.header_read_timeout;
                    tokio::spawn(async move {
                        // hyper's header timer starts at the first byte: a connection
                        // that sends nothing at all is closed here.
                        let mut probe = [0u8; 1];
                        match tokio::time::timeout(first_byte, stream.peek(&mut probe)).await {
                            Ok(Ok(n)) if n > 0 => {}
                            _ => return,
                        }
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned();
                        if let Err(e) = watcher.watch(connection).await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        if tokio::time::timeout(config.request_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the drain timeout; closing them");
        }
        self.shutdown.cancel();
        self.state.engine.shutdown().await;
        Ok(())
    }
}

/// A server running on a free loopback port, stopped when dropped.
pub struct TestServer {
    /// e.g. `http://127.0.0.1:41234`
    pub base_url: String,
    pub addr: SocketAddr,
    pub db: Db,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Builds a server from `config` and serves it on 127.0.0.1:0 in a background task.
pub async fn spawn_for_tests(config: ServerConfig) -> Result<TestServer, ServerError> {
    let app = build(config).await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let db = app.db().clone();
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let task = tokio::spawn(app.serve(listener, async move { signal.cancelled().await }));
    Ok(TestServer {
        base_url: format!("http://{addr}"),
        addr,
        db,
        stop,
        task: Some(task),
    })
}
