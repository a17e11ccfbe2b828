//! What the orchestrator is, apart from how it is stored or served: the flow state
//! machine, the flow types and their phases, the contract's shapes, and the defects the
//! server can be started with. Every other module of the server depends on this one; it
//! depends on none of them.

pub mod catalogue;
pub mod defects;
mod flow;
mod status;

pub(crate) use flow::{current_phase, progress};
pub use flow::{EventView, FlowSummary, FlowView, PhaseView};
pub use status::{Action, FlowStatus};

/// The configuration key whose presence asks for simulated faults:
/// `configuration.simulate = {"<phase>": {"fail_transient": N, "fail_permanent": true,
/// "delay_ms": T}}`. The engine honours it only when started with simulated faults
/// allowed; the API refuses such a create otherwise (422 `simulated_faults_disabled`).
pub const SIMULATE_KEY: &str = "simulate";

/// A name for a JSON value's type in messages ("a string", "an array").
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
