//! Phase handlers: the work each phase does on a flow's data.
//!
//! A handler is a trait object looked up in a [`HandlerRegistry`] by (flow type, phase), so
//! the built-in deterministic handlers can be replaced one by one, e.g. by a handler that
//! calls out to an agent service over HTTP (the trait is async for that reason).
//!
//! Every flow type starts from `initial_data.raw_data` (application/server records, see
//! [`records`]) so that any type runs on its own; a handler may also read the outputs of
//! the flow's earlier phases from the context.

mod assessment;
mod discovery;
mod finops;
mod graph;
mod lifecycle;
mod observability;
mod planning;
pub(crate) mod records;

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Everything a phase handler may read. Built by the engine when it claims the flow.
#[derive(Debug, Clone)]
pub struct PhaseContext {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub phase: String,
    pub phase_index: usize,
    /// The flow's `initial_data` (an object; `raw_data` holds the records).
    pub initial_data: Value,
    /// The flow's `configuration` (an object).
    pub configuration: Value,
    /// Outputs of the earlier phases of this flow, by phase name.
    pub previous_outputs: Map<String, Value>,
    /// The input a person gave to this phase (`POST .../input`), if it needs one.
    pub input: Option<Value>,
    /// 1-based attempt number of this phase since it was last (re)started.
    pub attempt: u32,
}

/// Whether retrying may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Retried with the retry policy's backoff (a timeout, an unavailable dependency).
    Transient,
    /// Fails the flow at once (bad data, a rejected approval).
    Permanent,
}

/// A phase's failure: `code` is stable and machine-readable, `message` says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PhaseError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl PhaseError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> PhaseError {
        PhaseError {
            kind: ErrorKind::Permanent,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> PhaseError {
        PhaseError {
            kind: ErrorKind::Transient,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The work of one phase. Must be deterministic in its context if the engine's
/// exactly-once recording is to mean anything: a phase may run more than once (a crashed
/// worker, a pause mid-phase), only one result is ever committed.
pub trait PhaseHandler: Send + Sync {
    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> BoxFuture<'a, Result<Value, PhaseError>>;
}

/// A synchronous, pure handler function.
type HandlerFn = fn(&PhaseContext) -> Result<Value, PhaseError>;

struct FnHandler(HandlerFn);

impl PhaseHandler for FnHandler {
    fn run<'a>(&'a self, ctx: &'a PhaseContext) -> BoxFuture<'a, Result<Value, PhaseError>> {
        let result = (self.0)(ctx);
        Box::pin(async move { result })
    }
}

/// (flow type, phase) → handler.
#[derive(Clone)]
pub struct HandlerRegistry {
    handlers: HashMap<(String, String), Arc<dyn PhaseHandler>>,
}

impl HandlerRegistry {
    /// The built-in deterministic handlers for every phase of the 8 flow types.
    pub fn builtin() -> HandlerRegistry {
        let mut handlers: HashMap<(String, String), Arc<dyn PhaseHandler>> = HashMap::new();
        let table: &[(&str, &str, HandlerFn)] = &[
            ("discovery", "data_import", discovery::data_import),
            ("discovery", "field_mapping", discovery::field_mapping),
            ("discovery", "data_cleansing", discovery::data_cleansing),
            ("discovery", "asset_creation", discovery::asset_creation),
            ("discovery", "asset_inventory", discovery::asset_inventory),
            (
                "discovery",
                "dependency_analysis",
                discovery::dependency_analysis,
            ),
            (
                "assessment",
                "readiness_assessment",
                assessment::readiness_assessment,
            ),
            (
                "assessment",
                "complexity_analysis",
                assessment::complexity_analysis,
            ),
            ("assessment", "risk_assessment", assessment::risk_assessment),
            (
                "assessment",
                "recommendation_generation",
                assessment::recommendation_generation,
            ),
            ("planning", "wave_planning", planning::wave_planning),
            ("planning", "resource_planning", planning::resource_planning),
            (
                "planning",
                "timeline_optimization",
                planning::timeline_optimization,
            ),
            (
                "execution",
                "pre_migration_validation",
                lifecycle::pre_migration_validation,
            ),
            (
                "execution",
                "migration_execution",
                lifecycle::migration_execution,
            ),
            (
                "execution",
                "post_migration_validation",
                lifecycle::post_migration_validation,
            ),
            (
                "modernize",
                "modernization_assessment",
                lifecycle::modernization_assessment,
            ),
            (
                "modernize",
                "architecture_redesign",
                lifecycle::architecture_redesign,
            ),
            (
                "modernize",
                "implementation_planning",
                lifecycle::implementation_planning,
            ),
            ("finops", "cost_analysis", finops::cost_analysis),
            (
                "finops",
                "optimization_identification",
                finops::optimization_identification,
            ),
            ("finops", "budget_planning", finops::budget_planning),
            (
                "observability",
                "monitoring_setup",
                observability::monitoring_setup,
            ),
            (
                "observability",
                "logging_configuration",
                observability::logging_configuration,
            ),
            (
                "observability",
                "alerting_setup",
                observability::alerting_setup,
            ),
            (
                "decommission",
                "decommission_planning",
                lifecycle::decommission_planning,
            ),
            ("decommission", "data_migration", lifecycle::data_migration),
            (
                "decommission",
                "system_shutdown",
                lifecycle::system_shutdown,
            ),
        ];
        for (flow_type, phase, f) in table {
            handlers.insert(
                (flow_type.to_string(), phase.to_string()),
                Arc::new(FnHandler(*f)),
            );
        }
        HandlerRegistry { handlers }
    }

    /// Replaces (or adds) the handler of one phase, e.g. with an agent-backed one.
    pub fn register(&mut self, flow_type: &str, phase: &str, handler: Arc<dyn PhaseHandler>) {
        self.handlers
            .insert((flow_type.to_string(), phase.to_string()), handler);
    }

    pub fn get(&self, flow_type: &str, phase: &str) -> Option<Arc<dyn PhaseHandler>> {
        self.handlers
            .get(&(flow_type.to_string(), phase.to_string()))
            .cloned()
    }
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistry")
            .field("handlers", &self.handlers.len())
            .finish()
    }
}

/// An approval phase's input: `{"approved": bool, "comment"?: string}`. Rejection or a
/// missing input is a permanent error (the engine never runs such a phase without input).
pub(crate) fn approval(ctx: &PhaseContext) -> Result<(bool, Option<String>), PhaseError> {
    let Some(input) = &ctx.input else {
        return Err(PhaseError::permanent(
            "input_missing",
            format!("phase {} needs an approval and has none", ctx.phase),
        ));
    };
    let approved = input.get("approved").and_then(Value::as_bool);
    let comment = input
        .get("comment")
        .and_then(Value::as_str)
        .map(str::to_string);
    match approved {
        Some(true) => Ok((true, comment)),
        Some(false) => Err(PhaseError::permanent(
            "input_rejected",
            format!(
                "phase {} was rejected{}",
                ctx.phase,
                comment.map(|c| format!(": {c}")).unwrap_or_default()
            ),
        )),
        None => Err(PhaseError::permanent(
            "input_invalid",
            format!("phase {} input has no boolean `approved`", ctx.phase),
        )),
    }
}

/// A configuration number (e.g. `configuration.max_wave_size`), if present and sane.
pub(crate) fn config_u64(ctx: &PhaseContext, key: &str) -> Option<u64> {
    ctx.configuration.get(key).and_then(Value::as_u64)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub(crate) fn ctx(flow_type: &str, phase: &str, initial_data: Value) -> PhaseContext {
        PhaseContext {
            flow_id: Uuid::nil(),
            flow_type: flow_type.to_string(),
            phase: phase.to_string(),
            phase_index: 0,
            initial_data,
            configuration: Value::Object(Map::new()),
            previous_outputs: Map::new(),
            input: None,
            attempt: 1,
        }
    }

    pub(crate) fn sample() -> Value {
        serde_json::json!({"raw_data": [
            {"application_name": "Web Portal", "business_criticality": "high", "technical_complexity": "medium",
             "dependencies": ["Orders API", "Auth"], "technology_stack": ["Java", "Spring"], "environment": "prod", "owner": "web-team"},
            {"application_name": "Orders API", "business_criticality": "critical", "technical_complexity": "high",
             "dependencies": ["Orders DB"], "technology_stack": ["Java"], "environment": "production", "monthly_cost": 1200},
            {"application_name": "Orders DB", "business_criticality": "critical", "technical_complexity": "medium",
             "technology_stack": ["Oracle"], "environment": "production", "data_size_gb": 500},
            {"application_name": "Auth", "business_criticality": "high", "technical_complexity": "low",
             "dependencies": ["Ledger"], "technology_stack": ["Node"], "environment": "production"},
            {"application_name": "Ledger", "business_criticality": "medium", "technical_complexity": "high",
             "dependencies": ["Auth", "Mainframe Batch"], "technology_stack": ["COBOL", "Mainframe"], "environment": "production"},
            {"application_name": "Intranet", "business_criticality": "low", "technical_complexity": "low",
             "technology_stack": ["SharePoint"], "environment": "dev", "lifecycle": "deprecated", "instance_count": 3}
        ]})
    }
}
