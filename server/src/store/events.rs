//! A flow's event log: the one place that appends to it, and its read.
//!
//! `seq` is `MAX(seq) + 1` inside the writer's transaction. Every writer updates the
//! `flows` row first, so it holds that row's lock before it appends: two appends to one
//! flow never race for a `seq`.

use crate::domain::{EventView, FlowStatus};
use crate::store::sql::{Tx, P};
use crate::store::Scope;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// One entry to append.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent<'a> {
    pub(crate) kind: &'a str,
    pub(crate) from: Option<FlowStatus>,
    pub(crate) to: Option<FlowStatus>,
    pub(crate) phase: Option<&'a str>,
    pub(crate) detail: Option<Value>,
}

impl<'a> NewEvent<'a> {
    /// An event with only a kind; add the rest with the builders.
    pub(crate) fn new(kind: &'a str) -> NewEvent<'a> {
        NewEvent {
            kind,
            from: None,
            to: None,
            phase: None,
            detail: None,
        }
    }

    pub(crate) fn status(mut self, from: Option<FlowStatus>, to: FlowStatus) -> Self {
        self.from = from;
        self.to = Some(to);
        self
    }

    pub(crate) fn phase(mut self, phase: Option<&'a str>) -> Self {
        self.phase = phase;
        self
    }

    pub(crate) fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Appends `event` to the log of flow `flow` of `account`.
pub(crate) async fn append_event(
    tx: &mut Tx,
    flow: Uuid,
    account: Uuid,
    at: DateTime<Utc>,
    event: NewEvent<'_>,
) -> Result<(), sqlx::Error> {
    tx.execute(
        "INSERT INTO flow_events (flow_id, client_account_id, seq, at, kind, from_status, to_status, phase, detail) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM flow_events WHERE flow_id = $1), \
         $3, $4, $5, $6, $7, $8)",
        &[
            flow.into(),
            account.into(),
            at.into(),
            event.kind.into(),
            P::Text(event.from.map(|s| s.as_str().to_string())),
            P::Text(event.to.map(|s| s.as_str().to_string())),
            P::Text(event.phase.map(str::to_string)),
            P::Json(event.detail),
        ],
    )
    .await?;
    Ok(())
}

/// A flow's history, oldest first.
pub(crate) async fn events(
    tx: &mut Tx,
    scope: &Scope,
    id: Uuid,
) -> Result<Vec<EventView>, sqlx::Error> {
    let rows = tx
        .fetch_all(
            "SELECT seq, at, kind, from_status, to_status, phase, detail FROM flow_events \
             WHERE flow_id = $1 AND client_account_id = $2 ORDER BY seq",
            &[id.into(), scope.account.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(EventView {
                seq: r.int("seq")?,
                at: r.ts("at")?,
                kind: r.text("kind")?,
                from_status: r.opt_text("from_status")?,
                to_status: r.opt_text("to_status")?,
                phase: r.opt_text("phase")?,
                detail: r.opt_json("detail")?,
            })
        })
        .collect()
}
