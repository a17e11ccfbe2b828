//! The seam between the HTTP API and the execution engine. The API never runs phases: it
//! writes state transitions and then calls [`EngineHooks::wake`] so idle workers look for
//! work at once instead of at their next poll. `/ready` and `/metrics` ask the engine for
//! its workers' state through the same trait.

use crate::db::Db;
use crate::defects::Defects;
use crate::ServerConfig;
use futures::future::BoxFuture;
use serde::Serialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The configuration key whose presence in a flow's `configuration` asks for simulated
/// faults; such a create is refused (422 `simulated_faults_disabled`) unless the server
/// runs with `allow_simulated_faults`.
pub const SIMULATED_FAULTS_KEY: &str = crate::engine::SIMULATE_KEY;

/// The engine's workers as `/ready` reports them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct WorkersStatus {
    /// Workers this process was configured to run.
    pub configured: u32,
    /// Workers whose loop is alive.
    pub alive: u32,
    /// Milliseconds since the most recent heartbeat of any local worker; null if none yet.
    pub last_heartbeat_age_ms: Option<u64>,
    /// False when workers are configured but none is making progress: `/ready` answers 503.
    pub healthy: bool,
}

/// What the API needs from the execution engine.
pub trait EngineHooks: Send + Sync + 'static {
    /// A flow became runnable: wake an idle worker. Must not block.
    fn wake(&self);

    /// The workers' state, for `/ready`. Must not block.
    fn readiness(&self) -> WorkersStatus;

    /// Extra Prometheus text appended to `/metrics` (engine metrics); empty by default.
    fn metrics_text(&self) -> String {
        String::new()
    }

    /// Stops the workers; called once after the HTTP server has drained.
    fn shutdown(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// No engine: flows stay where the API leaves them. Used until an engine is plugged in,
/// and by tests of the API alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEngine;

impl EngineHooks for NoEngine {
    fn wake(&self) {}

    fn readiness(&self) -> WorkersStatus {
        WorkersStatus {
            configured: 0,
            alive: 0,
            last_heartbeat_age_ms: None,
            healthy: true,
        }
    }
}

/// What an engine gets when the server starts it (see [`crate::build`]).
#[derive(Clone)]
pub struct EngineContext {
    pub db: Db,
    pub config: Arc<ServerConfig>,
    pub defects: Defects,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// Starts the engine for a server. Returns [`NoEngine`] when `config.workers == 0`.
///
/// This is the single place where the execution engine plugs into the server.
pub(crate) fn start_engine(ctx: EngineContext) -> Arc<dyn EngineHooks> {
    if ctx.config.workers == 0 {
        return Arc::new(NoEngine);
    }
    Arc::new(crate::engine::start(
        ctx.db,
        crate::engine::EngineConfig::from_server(&ctx.config),
        &ctx.defects,
        ctx.shutdown,
        crate::flows::handlers::HandlerRegistry::builtin(),
    ))
}
