//! Hand-off: the commit of a completed phase starts the flow's next phase under the same
//! lease, in the same transaction, when no other client account has work waiting.
//!
//! Without it every phase costs two transactions (claim, then commit) and a candidates
//! query, and the flow goes back to the queue between phases only for the same worker to
//! take it again. With it a transition is one transaction: the previous phase's result,
//! the flow's advance, the next phase's start and both events — on PostgreSQL one
//! statement. Fairness is kept: the advance checks, in the same statement, whether any
//! *other* account has a claimable flow; if one has, the flow is released as before and
//! the next claim goes through the fair order ([`super::fair`]). The flow's in-flight
//! count does not change, so the per-account cap holds.

use super::lease::{
    self, completed_detail, fault_history, lease_ms, one_claimable_sql, record_completed,
    record_started, simulates, Claimed, Committed, PhaseStart, FENCE,
};
use crate::domain::catalogue;
use crate::store::db::Db;
use crate::store::sql::{self, Row, Tx, P};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

/// Whether the phase after `c`'s may be started by the hand-off: there is one, and it does
/// not wait for input (the claim settles those as `waiting_for_input`).
pub(super) fn next_is_automatic(c: &Claimed) -> bool {
    catalogue::flow_type(&c.flow_type)
        .and_then(|t| t.phases.get(c.phase_index + 1))
        .is_some_and(|p| !p.needs_input)
}

/// The completed phase's result.
pub(super) struct Completed {
    pub output: Value,
    pub duration_ms: i64,
}

/// Records `c`'s phase as completed and advances the flow to its next phase; the flow
/// keeps its lease (new fencing token) and the next phase starts, unless another account
/// has claimable work, in which case the flow is released for the fair claim.
pub(super) async fn complete_and_start(
    db: &Db,
    c: &Claimed,
    worker: &str,
    lease: Duration,
    done: Completed,
) -> Result<Committed, sqlx::Error> {
    let now = sql::now();
    let handed = match db {
        Db::Postgres(_) => one_statement_pg(db, c, worker, lease, &done, now).await?,
        Db::Sqlite(_) => {
            let mut tx = lease::begin(db).await?;
            let handed = steps_sqlite(&mut tx, c, worker, lease, &done, now).await?;
            if handed.is_some() {
                tx.commit().await?;
            }
            handed
        }
    };
    let Some(handed) = handed else {
        return Ok(Committed::Discarded);
    };
    let Some((token, row)) = handed else {
        return Ok(Committed::Recorded);
    };
    let phase = row.text("name")?;
    let attempt = row.int("attempts")?;
    // Read after the commit (the start just recorded is counted); only for phases with
    // simulated faults.
    let (starts_ever, failures_ever) = if simulates(&c.configuration, &phase) {
        let mut tx = Tx::begin_as(db, false, "flowgate_engine", &[]).await?;
        let history = fault_history(&mut tx, c.flow_id, &phase, &c.configuration).await?;
        tx.end_read();
        history
    } else {
        (1, 0)
    };
    let mut previous_outputs = c.previous_outputs.clone();
    previous_outputs.insert(c.phase.clone(), done.output);
    Ok(Committed::Next(Box::new(Claimed {
        flow_id: c.flow_id,
        account: c.account,
        flow_type: c.flow_type.clone(),
        token,
        phase_index: c.phase_index + 1,
        phase,
        phase_count: c.phase_count,
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        starts_ever,
        failures_ever,
        initial_data: c.initial_data.clone(),
        configuration: c.configuration.clone(),
        previous_outputs,
        input: row.opt_json("input")?,
    })))
}

/// SQL: "another account than `$6` has a claimable flow" (now; `$5` on SQLite). One index
/// probe per account on PostgreSQL (as in the claim's candidates query); SQLite has no
/// LATERAL and runs the correlated EXISTS as probes.
pub(super) fn others_waiting(pg: bool) -> String {
    if pg {
        format!(
            "SELECT EXISTS (SELECT 1 FROM client_accounts a CROSS JOIN LATERAL {} x \
             WHERE a.id <> $6) AS waiting",
            one_claimable_sql("a.id", "now()")
        )
    } else {
        format!(
            "SELECT EXISTS (SELECT 1 FROM client_accounts a WHERE a.id <> $6 AND EXISTS {}) \
             AS waiting",
            one_claimable_sql("a.id", "$5")
        )
    }
}

/// PostgreSQL, after a fenced advance `adv`: the completed phase's row (`done`) and the
/// flow's last event number (`last`). Parameters as [`completion_params`].
const DONE_PG: &str = "done AS (UPDATE flow_phases p SET status = 'completed', output = $8, \
     completed_at = $5, duration_ms = $9, error = NULL FROM adv \
     WHERE p.flow_id = adv.id AND p.idx = $4), \
     last AS (SELECT COALESCE(MAX(seq), 0) AS seq FROM flow_events WHERE flow_id = $1)";

/// PostgreSQL: the start of the `events` CTE, appending `phase_completed` after `last`;
/// the caller adds its next event (`UNION ALL SELECT …`) and closes the parenthesis.
const COMPLETED_EVENT_PG: &str = "events AS (INSERT INTO flow_events (flow_id, client_account_id, \
     seq, at, kind, from_status, to_status, phase, detail) \
     SELECT $1, $6, last.seq + 1, $5, 'phase_completed', NULL, NULL, $10, $11 FROM adv, last";

/// The parameters of a phase's completion on PostgreSQL: `$1` flow, `$2` worker, `$3`
/// token, `$4` phase index, `$5` now, `$6` account, `$7` lease (ms), `$8` output, `$9`
/// duration (ms), `$10` phase name, `$11` the `phase_completed` detail.
fn completion_params(
    c: &Claimed,
    worker: &str,
    lease: Duration,
    done: &Completed,
    now: DateTime<Utc>,
) -> Vec<P> {
    let mut params = advance_params(c, worker, now);
    params.extend([
        lease_ms(lease).into(),
        P::Json(Some(done.output.clone())),
        done.duration_ms.into(),
        c.phase.as_str().into(),
        P::Json(Some(completed_detail(c, done.duration_ms))),
    ]);
    params
}

/// The fenced advance's parameters, shared by both backends: `$1` flow, `$2` worker, `$3`
/// token, `$4` phase index, `$5` now, `$6` account.
fn advance_params(c: &Claimed, worker: &str, now: DateTime<Utc>) -> Vec<P> {
    vec![
        c.flow_id.into(),
        worker.into(),
        c.token.into(),
        (c.phase_index as i64).into(),
        now.into(),
        c.account.into(),
    ]
}

/// The advance of the flow row, fenced. `{until}` is the new lease's expiry and `{half}`
/// the point past which the lease is extended to it. A kept flow's indexed columns
/// (`runnable_at`, the lease) are left as they are unless the lease is past its half, so
/// that PostgreSQL can update the row in place (a HOT update: no new index entries).
fn advance_sql(until: &str, half: &str) -> String {
    format!(
        "UPDATE flows SET current_phase_index = $4 + 1, status = 'running', \
         runnable_at = CASE WHEN others.waiting THEN $5 ELSE runnable_at END, \
         lease_owner = CASE WHEN others.waiting THEN NULL ELSE lease_owner END, \
         lease_expires_at = CASE WHEN others.waiting THEN NULL \
          WHEN lease_expires_at < {half} THEN {until} ELSE lease_expires_at END, \
         fencing_token = fencing_token + CASE WHEN others.waiting THEN 0 ELSE 1 END, \
         version = version + 1, updated_at = $5 \
         FROM others WHERE {FENCE} AND current_phase_index = $4"
    )
}

type Handed = Option<Option<(i64, Row)>>;

/// PostgreSQL: the whole hand-off in one statement, one round trip, its own transaction
/// (the engine's connections run as `flowgate_engine` for their whole session, see
/// [`Db::engine_pool`]). Data-modifying CTEs share one snapshot, so each step is conditioned on the
/// fenced advance (`adv`); the events' `seq` is read from the snapshot, and a concurrent
/// append to this flow that does not change its fence (none does while a phase runs)
/// would fail the statement on the unique `(flow_id, seq)` rather than reuse a number.
async fn one_statement_pg(
    db: &Db,
    c: &Claimed,
    worker: &str,
    lease: Duration,
    done: &Completed,
    now: DateTime<Utc>,
) -> Result<Handed, sqlx::Error> {
    let sql = format!(
        "WITH others AS ({others}), \
         adv AS ({advance} RETURNING flows.id, flows.lease_owner IS NOT NULL AS kept, flows.fencing_token), \
         {done}, \
         started AS (UPDATE flow_phases p SET status = 'running', attempts = p.attempts + 1, \
          started_at = $5, error = NULL FROM adv WHERE adv.kept AND p.flow_id = adv.id AND p.idx = $4 + 1 \
          RETURNING p.name, p.attempts, p.input), \
         {completed_event} \
          UNION ALL \
          SELECT $1, $6, last.seq + 2, $5, 'phase_started', NULL, NULL, started.name, \
           jsonb_build_object('attempt', started.attempts, 'phase_index', $4 + 1, 'worker', $2::text, \
           'fencing_token', adv.fencing_token) FROM adv, last, started) \
         SELECT adv.kept, adv.fencing_token, started.name, started.attempts, started.input \
         FROM adv LEFT JOIN started ON true",
        others = others_waiting(true),
        done = DONE_PG,
        completed_event = COMPLETED_EVENT_PG,
        advance = advance_sql(
            "now() + ($7 * interval '1 millisecond')",
            "now() + ($7 * interval '500 microseconds')"
        ),
    );
    let params = completion_params(c, worker, lease, done, now);
    let Some(row) = sql::fetch_optional(db, &sql, &params).await? else {
        return Ok(None);
    };
    if !row.bool("kept")? {
        return Ok(Some(None));
    }
    let token = row.int("fencing_token")?;
    Ok(Some(Some((token, row))))
}

/// PostgreSQL: the last phase's completion, in one statement like the hand-off: the
/// phase's result, the flow `completed` and its lease released, `phase_completed` and
/// `status_changed` appended. (SQLite and the other outcomes go through
/// [`lease::commit`]'s transaction.)
pub(super) async fn finish_pg(
    db: &Db,
    c: &Claimed,
    worker: &str,
    done: Completed,
) -> Result<Committed, sqlx::Error> {
    let now = sql::now();
    let sql = format!(
        "WITH adv AS (UPDATE flows SET current_phase_index = $4 + 1, status = 'completed', \
          completed_at = $5, runnable_at = NULL, lease_owner = NULL, lease_expires_at = NULL, \
          version = version + 1, updated_at = $5 WHERE {FENCE} AND current_phase_index = $4 \
          RETURNING flows.id), \
         {DONE_PG}, \
         {COMPLETED_EVENT_PG} \
          UNION ALL \
          SELECT $1, $6, last.seq + 2, $5, 'status_changed', 'running', 'completed', NULL, NULL \
          FROM adv, last) \
         SELECT adv.id FROM adv"
    );
    // $7 (the lease) is not used: the flow is released.
    let params = completion_params(c, worker, Duration::ZERO, &done, now);
    let row = sql::fetch_optional(db, &sql, &params).await?;
    Ok(if row.is_some() {
        Committed::Recorded
    } else {
        Committed::Discarded
    })
}

/// SQLite (no data-modifying CTEs; writers are serialised): the same steps one by one.
async fn steps_sqlite(
    tx: &mut Tx,
    c: &Claimed,
    worker: &str,
    lease: Duration,
    done: &Completed,
    now: DateTime<Utc>,
) -> Result<Handed, sqlx::Error> {
    let until = now + chrono::Duration::milliseconds(lease_ms(lease));
    let half = now + chrono::Duration::milliseconds(lease_ms(lease) / 2);
    let advanced = tx
        .fetch_optional(
            &format!(
                "WITH others AS ({}) {} \
                 RETURNING CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END AS kept, fencing_token",
                others_waiting(false),
                advance_sql("$7", "$8")
            ),
            &[
                advance_params(c, worker, now),
                vec![until.into(), half.into()],
            ]
            .concat(),
        )
        .await?;
    let Some(advanced) = advanced else {
        return Ok(None);
    };
    record_completed(
        tx,
        c,
        "completed",
        done.output.clone(),
        done.duration_ms,
        now,
    )
    .await?;
    if advanced.int("kept")? == 0 {
        return Ok(Some(None));
    }
    let token = advanced.int("fencing_token")?;
    let index = c.phase_index + 1;
    let row = tx
        .fetch_optional(
            "UPDATE flow_phases SET status = 'running', attempts = attempts + 1, started_at = $3, \
             error = NULL WHERE flow_id = $1 AND idx = $2 RETURNING name, attempts, input",
            &[c.flow_id.into(), (index as i64).into(), now.into()],
        )
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    let phase = row.text("name")?;
    let start = PhaseStart {
        flow_id: c.flow_id,
        account: c.account,
        index,
        phase: &phase,
        attempt: row.int("attempts")?,
        from: None,
    };
    record_started(tx, &start, worker, token, now).await?;
    Ok(Some(Some((token, row))))
}
