//! The contract's shapes: a flow, its phases, a list entry and an event, as both APIs
//! and the store exchange them. They live in the domain because the store fills them and
//! the API serves them; neither owns them.

use crate::domain::catalogue::FlowTypeSpec;
use crate::domain::FlowStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// One phase of a flow, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhaseView {
    pub name: String,
    /// pending | running | waiting_for_input | completed | failed | skipped
    pub status: String,
    pub needs_input: bool,
    pub attempts: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<String>,
}

/// A flow, as `GET /api/v1/flows/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowView {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub flow_name: Option<String>,
    /// initialized | running | waiting_for_input | paused | completed | failed | cancelled
    pub status: String,
    /// Name of the current phase; null once completed.
    pub current_phase: Option<String>,
    /// Completed phases / total phases × 100, one decimal.
    pub progress_percentage: f64,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    #[schema(value_type = Object)]
    pub configuration: Value,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub phases: Vec<PhaseView>,
    /// `{phase, code, message}` when failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) initial_data: Value,
}

/// A flow in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowSummary {
    pub flow_id: Uuid,
    pub flow_type: String,
    pub flow_name: Option<String>,
    pub status: String,
    pub current_phase: Option<String>,
    pub phases_completed: i64,
    pub phases_total: i64,
    pub progress_percentage: f64,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One entry of a flow's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub phase: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

pub(crate) fn progress(completed: i64, total: i64) -> f64 {
    if total <= 0 {
        return 0.0;
    }
    ((completed as f64) * 1000.0 / (total as f64)).round() / 10.0
}

pub(crate) fn current_phase(
    spec: Option<&FlowTypeSpec>,
    status: &str,
    index: i64,
) -> Option<String> {
    if status == FlowStatus::Completed.as_str() {
        return None;
    }
    let spec = spec?;
    usize::try_from(index)
        .ok()
        .and_then(|i| spec.phases.get(i))
        .map(|p| p.name.to_string())
}
