//! The seam between the HTTP API and the execution engine. The API never runs phases: it
//! writes state transitions and then calls [`EngineHooks::wake`] so idle workers look for
//! work at once instead of at their next poll. `/ready` and `/metrics` ask the engine for
//! its workers' state through the same trait.

use futures::future::BoxFuture;
use serde::Serialize;

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
