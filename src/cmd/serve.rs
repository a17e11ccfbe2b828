//! `flowgate serve`: the reference orchestrator.

use crate::exit::{CliError, CmdResult, OK};
use flowgate_server::defects::{Defect, Defects};
use flowgate_server::ServerConfig;
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// `postgres://...` or `sqlite://PATH` (the SQLite file is created on first start).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://flowgate.db")]
    pub database_url: String,
    /// Inject a defect (repeatable); see `--list-defects`. Off unless named.
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Print the injectable defects and exit.
    #[arg(long)]
    pub list_defects: bool,
    /// Accept flows whose configuration asks for simulated faults (for tests).
    #[arg(long)]
    pub allow_simulated_faults: bool,
    /// Engine workers in this process (0: serve the API only).
    #[arg(long, default_value_t = 4)]
    pub workers: u32,
    /// Most flows of one client account running a phase at once, across processes
    /// (0: no cap). Default: all workers but one, so one is always left for the other
    /// tenants.
    #[arg(long)]
    pub tenant_max_running: Option<u32>,
    /// Flows one client account may create per second; more are answered 429
    /// `rate_limited` with `Retry-After` (0: no limit).
    #[arg(long, default_value_t = 100)]
    pub tenant_create_rate: u32,
    /// Creates one client account may make at once before the rate applies.
    #[arg(long, default_value_t = 200)]
    pub tenant_create_burst: u32,
    /// Most database connections the API holds at once (the engine's workers have their
    /// own pool: one connection per worker and two more).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// How long an API key's account and an engagement's owner are remembered without
    /// asking the database (a revoked key works this long; 0: always ask).
    #[arg(long, default_value = "30s", value_parser = crate::duration::parse_duration)]
    pub auth_cache_ttl: std::time::Duration,
    /// How long a worker's claim on a flow lasts without renewal, in milliseconds; a killed
    /// process's flows are taken over after at most this long.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub lease_ms: u64,
    /// A connection must send a request's whole header within this long (also how long
    /// an idle keep-alive connection, or one that sends nothing, is kept).
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub header_read_timeout: std::time::Duration,
    /// A request body that stops arriving for this long is answered 408.
    #[arg(long, default_value = "10s", value_parser = crate::duration::parse_duration)]
    pub body_read_timeout: std::time::Duration,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("flowgate: shutting down (draining in-flight requests)");
}

pub async fn run(args: ServeArgs) -> CmdResult {
    if args.list_defects {
        for d in Defect::ALL {
            println!("{:<28} {}", d.name(), d.description());
        }
        return Ok(OK);
    }
    let defects = Defects::parse(&args.defects).map_err(CliError::invalid)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let config = ServerConfig {
        listen: args.listen,
        database_url: args.database_url,
        defects: defects.clone(),
        allow_simulated_faults: args.allow_simulated_faults,
        workers: args.workers,
        tenant_max_running: args.tenant_max_running,
        tenant_create_rate: args.tenant_create_rate,
        tenant_create_burst: args.tenant_create_burst,
        auth_cache_ttl: args.auth_cache_ttl,
        max_connections: args.db_max_connections,
        lease_duration: std::time::Duration::from_millis(args.lease_ms),
        header_read_timeout: args.header_read_timeout,
        body_read_timeout: args.body_read_timeout,
        ..ServerConfig::default()
    };
    let app = flowgate_server::build(config)
        .await
        .map_err(|e| CliError::infra(format!("cannot start the server: {e}")))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::infra(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::infra(format!("cannot read the listening address: {e}")))?;
    let defect_note = if defects.is_empty() {
        String::new()
    } else {
        format!(" with defects: {}", defects.names().join(", "))
    };
    eprintln!(
        "flowgate reference server listening on http://{addr} ({}){defect_note}",
        app.db().backend_name()
    );
    app.serve(listener, shutdown_signal())
        .await
        .map_err(|e| CliError::infra(format!("server error: {e}")))?;
    Ok(OK)
}
