//! The API's lifecycle actions (pause, resume, cancel, input, retry, delete) applied to a
//! stored flow: each is one compare-and-set on the flow's status, with its event, in the
//! caller's transaction. Which action is legal from which status is the domain's table
//! ([`Action::allowed_from`]); this module only writes it down.

use crate::domain::catalogue;
use crate::domain::{Action, FlowStatus};
use crate::store::events::{append_event, NewEvent};
use crate::store::sql::{self, Tx, P};
use crate::store::{Scope, StoreError, ONE_FLOW_IN_SCOPE};
use serde_json::json;
use uuid::Uuid;

/// What a transition did.
pub(crate) struct Transitioned {
    /// The flow can now be claimed by a worker: wake one.
    pub(crate) runnable: bool,
}

/// Applies `action` to a flow of the scope. `lenient` (the `illegal-transitions` defect)
/// accepts pause/resume/cancel from any status.
pub(crate) async fn transition(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
    action: &Action,
    lenient: bool,
) -> Result<Transitioned, StoreError> {
    // A concurrent change between the read and the guarded update makes the update miss;
    // re-read and decide again (bounded: each miss means someone else made progress).
    for _ in 0..8 {
        let row = tx
            .fetch_optional(
                &format!(
                    "SELECT status, paused_from, current_phase_index, flow_type FROM flows \
                     WHERE {ONE_FLOW_IN_SCOPE} AND status <> 'deleted'"
                ),
                &[id.into(), scope.account.into(), scope.engagement.into()],
            )
            .await?;
        let Some(row) = row else {
            return Err(StoreError::FlowNotFound);
        };
        let current_text = row.text("status")?;
        let current = FlowStatus::parse(&current_text).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown status `{current_text}`").into())
        })?;
        let paused_from = row
            .opt_text("paused_from")?
            .as_deref()
            .and_then(FlowStatus::parse);
        let phase_index = row.int("current_phase_index")?;
        let phase_name = catalogue::flow_type(&row.text("flow_type")?)
            .and_then(|s| {
                usize::try_from(phase_index)
                    .ok()
                    .and_then(|i| s.phases.get(i))
            })
            .map(|p| p.name.to_string());
        let lenient_ok =
            lenient && matches!(action, Action::Pause | Action::Resume | Action::Cancel);
        if !(lenient_ok || action.allowed_from(current)) {
            return Err(StoreError::IllegalTransition {
                verb: action.verb(),
                current,
            });
        }
        let new_status = action.target(paused_from);
        let now = sql::now();
        let mut detail = json!({ "action": action.name() });
        // $1 id, $2 account, $3 observed status, $4 now, $5 new status, $6 extra value.
        let mut extra: Option<P> = None;
        const RELEASE: &str = "runnable_at = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                               fencing_token = fencing_token + 1";
        let (set, runnable): (String, bool) = match action {
            Action::Pause => {
                extra = Some(P::Text(Some(current.as_str().to_string())));
                (format!("paused_from = $6, {RELEASE}"), false)
            }
            Action::Resume if new_status == FlowStatus::WaitingForInput => {
                ("paused_from = NULL, runnable_at = NULL".into(), false)
            }
            Action::Resume => (
                "paused_from = NULL, runnable_at = $4, completed_at = NULL".into(),
                true,
            ),
            Action::Cancel => (format!("paused_from = NULL, {RELEASE}"), false),
            Action::Delete => (format!("deleted_at = $4, {RELEASE}"), false),
            Action::Retry => (
                "error = NULL, runnable_at = $4, completed_at = NULL".into(),
                true,
            ),
            Action::Input { approved, comment } => {
                detail["approved"] = json!(approved);
                detail["comment"] = json!(comment);
                if *approved {
                    ("runnable_at = $4".into(), true)
                } else {
                    let message = comment.clone().unwrap_or_else(|| "rejected".to_string());
                    extra = Some(P::Json(Some(json!({
                        "phase": phase_name,
                        "code": "input_rejected",
                        "message": message,
                    }))));
                    ("error = $6, runnable_at = NULL".into(), false)
                }
            }
        };
        let mut params: Vec<P> = vec![
            id.into(),
            scope.account.into(),
            current.as_str().into(),
            now.into(),
            new_status.as_str().into(),
        ];
        params.extend(extra);
        let sql = format!(
            "UPDATE flows SET status = $5, {set}, version = version + 1, updated_at = $4 \
             WHERE id = $1 AND client_account_id = $2 AND status = $3",
        );
        if tx.execute(&sql, &params).await? == 0 {
            continue;
        }
        if let Action::Input { approved, comment } = action {
            let input = json!({ "approved": approved, "comment": comment });
            if *approved {
                tx.execute(
                    "UPDATE flow_phases SET input = $3 WHERE flow_id = $1 AND client_account_id = $2 AND idx = $4",
                    &[id.into(), scope.account.into(), input.into(), phase_index.into()],
                )
                .await?;
            } else {
                let message = comment.clone().unwrap_or_else(|| "rejected".to_string());
                tx.execute(
                    "UPDATE flow_phases SET input = $3, status = 'failed', error = $5, completed_at = $6 \
                     WHERE flow_id = $1 AND client_account_id = $2 AND idx = $4",
                    &[
                        id.into(),
                        scope.account.into(),
                        input.into(),
                        phase_index.into(),
                        message.into(),
                        now.into(),
                    ],
                )
                .await?;
            }
        }
        if let Action::Retry = action {
            tx.execute(
                "UPDATE flow_phases SET status = 'pending', attempts = 0, error = NULL, input = NULL, \
                 started_at = NULL, completed_at = NULL, duration_ms = NULL \
                 WHERE flow_id = $1 AND client_account_id = $2 AND status = 'failed'",
                &[id.into(), scope.account.into()],
            )
            .await?;
        }
        append_event(
            tx,
            id,
            scope.account,
            now,
            NewEvent::new("status_changed")
                .status(Some(current), new_status)
                .phase(phase_name.as_deref())
                .detail(detail),
        )
        .await?;
        return Ok(Transitioned { runnable });
    }
    Err(StoreError::Contended)
}
