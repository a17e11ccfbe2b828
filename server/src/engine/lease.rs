//! The engine's SQL: claim, lease renewal, fenced commits, heartbeats and gauges.
//!
//! Every write to a claimed flow is fenced: it names the lease owner and the fencing token
//! it got at claim time and requires status `running`. A worker whose lease expired (and
//! whose flow another worker re-claimed, bumping the token), or whose flow was paused,
//! cancelled or deleted meanwhile (the API clears the lease and bumps the token), changes
//! nothing: its result is discarded. Each transaction updates the `flows` row first, so
//! it holds the row lock before it appends events (event `seq` is `MAX(seq) + 1`).
//!
//! On PostgreSQL every transaction runs as role `flowgate_engine` (cross-tenant policies);
//! lease times come from the database clock. On SQLite writers are serialised
//! (`BEGIN IMMEDIATE`) and times are bound from the process clock.

use super::fair::{Candidate, Fairness};
use super::handoff;
use crate::domain::catalogue;
use crate::domain::FlowStatus;
use crate::store::db::Db;
use crate::store::events::{append_event, NewEvent};
use crate::store::sql::{self, Row, Tx, P};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::time::Duration;
use uuid::Uuid;

/// A flow this worker holds a lease on, with everything its current phase needs.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub flow_id: Uuid,
    pub account: Uuid,
    pub flow_type: String,
    pub token: i64,
    pub phase_index: usize,
    pub phase: String,
    pub phase_count: usize,
    /// 1-based attempt of this phase since it was last (re)started.
    pub attempt: u32,
    /// `phase_started` events of this phase over the flow's whole life (incl. this one).
    pub starts_ever: i64,
    /// `phase_failed` events of this phase before this attempt.
    pub failures_ever: i64,
    pub initial_data: Value,
    pub configuration: Value,
    pub previous_outputs: Map<String, Value>,
    pub input: Option<Value>,
}

pub(crate) enum ClaimOutcome {
    /// Nothing runnable.
    Idle,
    /// Runnable flows wait, but only for accounts at their cap of flows in flight: a
    /// phase ending frees a place (the worker that ran it claims again at once).
    Capped,
    /// A flow was claimed and its phase must run.
    Run(Box<Claimed>),
    /// A flow was claimed and settled without running a handler (it now waits for input).
    Settled,
}

/// A writing transaction as `flowgate_engine`, the role set in the BEGIN's round trip.
pub(super) async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
    Tx::begin_as(db, true, "flowgate_engine", &[]).await
}

/// Appends an event to the log of the flow this worker holds.
async fn record(
    tx: &mut Tx,
    c: &Claimed,
    at: DateTime<Utc>,
    event: NewEvent<'_>,
) -> Result<(), sqlx::Error> {
    append_event(tx, c.flow_id, c.account, at, event).await
}

pub(super) fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

/// SQL condition: flow `f` (an alias) is claimable at `clock` — runnable, not finished,
/// and no live lease. The claim, the hand-off's "another account waits" and the queue
/// gauge all ask this.
pub(super) fn claimable_sql(f: &str, clock: &str) -> String {
    format!(
        "{f}.runnable_at <= {clock} AND {f}.status IN ('initialized', 'running') \
         AND ({f}.lease_expires_at IS NULL OR {f}.lease_expires_at < {clock})"
    )
}

/// The clock of an engine statement and its parameters: PostgreSQL reads its own
/// (`now()`); SQLite is given the process's, `now`, as `$1`.
fn statement_clock(pg: bool, now: DateTime<Utc>) -> (&'static str, Vec<P>) {
    if pg {
        ("now()", vec![])
    } else {
        ("$1", vec![now.into()])
    }
}

/// SQL subquery: one claimable flow of `account` (an SQL expression) at `clock`, as an
/// index probe. The ORDER BY is what keeps it one: without it PostgreSQL may choose a
/// sequential scan that stops at the first match (estimated cheap while most flows were
/// runnable at the last ANALYZE), reading past every finished flow at the front of the
/// table on each claim — 1 700 rows per claim on average in `bench/engine.sh`, growing
/// with the history.
pub(super) fn one_claimable_sql(account: &str, clock: &str) -> String {
    format!(
        "(SELECT 1 FROM flows f WHERE f.client_account_id = {account} AND {} \
         ORDER BY f.runnable_at LIMIT 1)",
        claimable_sql("f", clock)
    )
}

/// SQL: the accounts with a claimable flow at `clock`, and how many of their flows are in
/// flight. "Has this account runnable work": PostgreSQL flattens an EXISTS into a
/// semi-join over every runnable flow (a scan of the whole backlog per claim); a LATERAL
/// with LIMIT 1 stays one index probe per account. SQLite has no LATERAL and runs a
/// correlated EXISTS as a probe anyway.
pub(super) fn candidates_sql(pg: bool, clock: &str) -> String {
    let (has_work, alias) = if pg {
        ("CROSS JOIN LATERAL", " w")
    } else {
        ("WHERE EXISTS", "")
    };
    format!(
        "SELECT a.id AS account, {} AS in_flight FROM client_accounts a {has_work} {}{alias}",
        in_flight_sql("a.id", clock),
        one_claimable_sql("a.id", clock)
    )
}

/// SQL counting the flows of `account` (an SQL expression) that hold a live lease at
/// `clock`: the flows in flight, as the cap counts them.
fn in_flight_sql(account: &str, clock: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM flows r WHERE r.client_account_id = {account} \
         AND r.lease_owner IS NOT NULL AND r.lease_expires_at > {clock})"
    )
}

/// First key of the advisory locks that serialise the last step of claims per client
/// account (the second is a hash of the account id); no other advisory lock is used.
const CLAIM_LOCK_SPACE: i32 = 7031;

/// PostgreSQL: whether `account`, this transaction's new lease included, stays within
/// `cap`. Claims of one account take an advisory lock here, at their very end, and count
/// in a statement whose snapshot follows the lock: the previous holder has committed, so
/// its lease is counted. Claims run in parallel up to this point; the lock is held only
/// for this count and the commit.
async fn within_cap_pg(tx: &mut Tx, account: Uuid, cap: u32) -> Result<bool, sqlx::Error> {
    tx.execute(
        &format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK_SPACE}, hashtext($1::text))"),
        &[account.into()],
    )
    .await?;
    let in_flight = tx
        .fetch_optional(
            &format!("SELECT {} AS n", in_flight_sql("$1", "now()")),
            &[account.into()],
        )
        .await?
        .map(|r| r.int("n"))
        .transpose()?
        .unwrap_or(0);
    Ok(in_flight <= i64::from(cap))
}

/// Claims a runnable flow without a live lease, fairly between tenants (see [`fair`]):
/// the oldest one of the account `fairness` puts first. Settles it or starts its current
/// phase, in one transaction.
pub(crate) async fn claim(
    db: &Db,
    worker: &str,
    lease: Duration,
    fairness: &Fairness,
) -> Result<ClaimOutcome, sqlx::Error> {
    let mut tx = begin(db).await?;
    let now = sql::now();
    let pg = tx.is_postgres();
    let (clock, clock_param) = statement_clock(pg, now);
    let candidates: Vec<Candidate> = tx
        .fetch_all(&candidates_sql(pg, clock), &clock_param)
        .await?
        .iter()
        .map(|r| {
            Ok(Candidate {
                account: r.uuid("account")?,
                in_flight: r.int("in_flight")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
    // The outputs of the phases before the current one, by phase name, in the same query.
    let previous = if pg {
        "(SELECT COALESCE(jsonb_object_agg(q.name, q.output), '{}'::jsonb) FROM flow_phases q \
         WHERE q.flow_id = f.id AND q.idx < f.current_phase_index)"
    } else {
        "(SELECT COALESCE(json_group_object(q.name, json(q.output)), '{}') FROM flow_phases q \
         WHERE q.flow_id = f.id AND q.idx < f.current_phase_index)"
    };
    let account_param = if pg { "$1" } else { "$2" };
    // `order` leaves out the accounts at their cap as the candidates query saw them: exact
    // on SQLite (writers are serialised, the query ran in this transaction); on
    // PostgreSQL concurrent claims re-check before they commit (`within_cap_pg`).
    let cap = fairness.cap();
    let mut row = None;
    // Held until this claim has committed (see `fair`).
    let mut turn = fairness.turn(&candidates);
    while let Some(account) = turn.next_account() {
        let mut params = clock_param.clone();
        params.push(account.into());
        row = tx
            .fetch_optional(
                // The flow is chosen and locked first, then joined: joined before the
                // LIMIT, PostgreSQL may join every runnable flow's phase row and sort them
                // (5 ms per claim at 1 600 queued, measured).
                &format!(
                    "SELECT f.id, f.client_account_id, f.flow_type, f.status, f.current_phase_index, \
                     f.configuration, f.initial_data, p.name AS phase_name, p.needs_input, p.input, p.attempts, \
                     {previous} AS previous_outputs \
                     FROM (SELECT f.* FROM flows f \
                      WHERE f.client_account_id = {account_param} AND {claimable} \
                      ORDER BY f.runnable_at LIMIT 1{lock}) f \
                     LEFT JOIN flow_phases p ON p.flow_id = f.id AND p.idx = f.current_phase_index",
                    claimable = claimable_sql("f", clock)
                ),
                &params,
            )
            .await?;
        if row.is_some() {
            turn.served();
            break;
        }
    }
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(if fairness.capped(&candidates) {
            ClaimOutcome::Capped
        } else {
            ClaimOutcome::Idle
        });
    };
    let flow_id = row.uuid("id")?;
    let account = row.uuid("client_account_id")?;
    let flow_type = row.text("flow_type")?;
    let status_text = row.text("status")?;
    let status = FlowStatus::parse(&status_text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown status `{status_text}`").into()))?;
    let index = usize::try_from(row.int("current_phase_index")?).unwrap_or(usize::MAX);
    let phase_count = catalogue::flow_type(&flow_type).map_or(0, |s| s.phases.len());

    if index >= phase_count {
        // Nothing left to run (or an unknown type): finish rather than spin on it.
        let (to, err) = if phase_count == 0 {
            (
                FlowStatus::Failed,
                Some(
                    json!({"phase": null, "code": "unknown_flow_type", "message": format!("flow type `{flow_type}` has no phases")}),
                ),
            )
        } else {
            (FlowStatus::Completed, None)
        };
        tx.execute(
            "UPDATE flows SET status = $2, error = $3, runnable_at = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, completed_at = $4, version = version + 1, updated_at = $4 WHERE id = $1",
            &[flow_id.into(), to.as_str().into(), P::Json(err), now.into()],
        )
        .await?;
        append_event(
            &mut tx,
            flow_id,
            account,
            now,
            NewEvent::new("status_changed").status(Some(status), to),
        )
        .await?;
        tx.commit().await?;
        return Ok(ClaimOutcome::Settled);
    }

    let phase = row.text("phase_name")?;
    let needs_input = row.bool("needs_input")?;
    let input = row.opt_json("input")?;

    if needs_input && input.is_none() {
        tx.execute(
            "UPDATE flows SET status = 'waiting_for_input', runnable_at = NULL, lease_owner = NULL, \
             lease_expires_at = NULL, version = version + 1, updated_at = $2 WHERE id = $1",
            &[flow_id.into(), now.into()],
        )
        .await?;
        tx.execute(
            "UPDATE flow_phases SET status = 'waiting_for_input' WHERE flow_id = $1 AND idx = $2",
            &[flow_id.into(), (index as i64).into()],
        )
        .await?;
        append_event(
            &mut tx,
            flow_id,
            account,
            now,
            NewEvent::new("status_changed")
                .status(Some(status), FlowStatus::WaitingForInput)
                .phase(Some(phase.as_str()))
                .detail(json!({"reason": "phase needs input", "phase_index": index})),
        )
        .await?;
        tx.commit().await?;
        return Ok(ClaimOutcome::Settled);
    }

    let attempt = row.int("attempts")? + 1;
    let start = PhaseStart {
        flow_id,
        account,
        index,
        phase: &phase,
        attempt,
        from: (status != FlowStatus::Running).then_some(status),
    };
    let token = start_phase(&mut tx, &start, worker, lease, now).await?;

    let previous_outputs: Map<String, Value> = match row.json("previous_outputs")? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let configuration = row.json("configuration")?;
    let (starts_ever, failures_ever) =
        fault_history(&mut tx, flow_id, &phase, &configuration).await?;
    if pg && cap > 0 && !within_cap_pg(&mut tx, account, cap).await? {
        // Another claim of the same account committed first: give this one back.
        tx.rollback().await?;
        return Ok(ClaimOutcome::Capped);
    }
    tx.commit().await?;
    Ok(ClaimOutcome::Run(Box::new(Claimed {
        flow_id,
        account,
        flow_type,
        token,
        phase_index: index,
        phase,
        phase_count,
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        starts_ever,
        failures_ever,
        initial_data: row.json("initial_data")?,
        configuration,
        previous_outputs,
        input,
    })))
}

/// For a phase with simulated faults (`configuration.simulate.<phase>`): its
/// `phase_started` events over the flow's life (this start included) and its
/// `phase_failed` events. Other phases: (1, 0), without a query.
pub(super) async fn fault_history(
    tx: &mut Tx,
    flow_id: Uuid,
    phase: &str,
    configuration: &Value,
) -> Result<(i64, i64), sqlx::Error> {
    if !simulates(configuration, phase) {
        return Ok((1, 0));
    }
    let c = tx
        .fetch_optional(
            "SELECT \
             (SELECT COUNT(*) FROM flow_events WHERE flow_id = $1 AND phase = $2 AND kind = 'phase_started') AS starts, \
             (SELECT COUNT(*) FROM flow_events WHERE flow_id = $1 AND phase = $2 AND kind = 'phase_failed') AS failures",
            &[flow_id.into(), phase.into()],
        )
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((c.int("starts")?, c.int("failures")?))
}

/// Whether `configuration` simulates faults in `phase`.
pub(super) fn simulates(configuration: &Value, phase: &str) -> bool {
    configuration
        .get(crate::domain::SIMULATE_KEY)
        .and_then(|s| s.get(phase))
        .is_some()
}

/// A phase being started (by a claim, or by a hand-off).
pub(super) struct PhaseStart<'a> {
    pub flow_id: Uuid,
    pub account: Uuid,
    pub index: usize,
    pub phase: &'a str,
    /// 1-based attempt of the phase.
    pub attempt: i64,
    /// The flow's status before, when it was not `running` yet.
    pub from: Option<FlowStatus>,
}

/// Leases the claimed flow to `worker` and starts its phase: the flow `running` with a new
/// fencing token (returned), the phase `running`, a `status_changed` event when the status
/// changed and a `phase_started` event. PostgreSQL: one statement (the flow row is already
/// locked by the claim, so the events' `seq` read in it is current).
async fn start_phase(
    tx: &mut Tx,
    s: &PhaseStart<'_>,
    worker: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let bump = i64::from(s.from.is_some());
    if tx.is_postgres() {
        let row = tx
            .fetch_optional(
                "WITH adv AS (UPDATE flows SET status = 'running', lease_owner = $2, \
                  lease_expires_at = now() + ($3 * interval '1 millisecond'), \
                  fencing_token = fencing_token + 1, version = version + $4, updated_at = $5 \
                  WHERE id = $1 RETURNING fencing_token), \
                 ph AS (UPDATE flow_phases SET status = 'running', attempts = $7, started_at = $5, \
                  error = NULL WHERE flow_id = $1 AND idx = $6), \
                 last AS (SELECT COALESCE(MAX(seq), 0) AS seq FROM flow_events WHERE flow_id = $1), \
                 events AS (INSERT INTO flow_events (flow_id, client_account_id, seq, at, kind, \
                  from_status, to_status, phase, detail) \
                  SELECT $1, $8, last.seq + 1, $5, 'status_changed', $9, 'running', $10, NULL \
                  FROM last WHERE $9::text IS NOT NULL \
                  UNION ALL \
                  SELECT $1, $8, last.seq + CASE WHEN $9::text IS NULL THEN 1 ELSE 2 END, $5, \
                   'phase_started', NULL, NULL, $10, jsonb_build_object('attempt', $7::bigint, \
                   'phase_index', $6::bigint, 'worker', $2::text, 'fencing_token', adv.fencing_token) \
                  FROM adv, last) \
                 SELECT fencing_token FROM adv",
                &[
                    s.flow_id.into(),
                    worker.into(),
                    lease_ms(lease).into(),
                    bump.into(),
                    now.into(),
                    (s.index as i64).into(),
                    s.attempt.into(),
                    s.account.into(),
                    P::Text(s.from.map(|f| f.as_str().to_string())),
                    s.phase.into(),
                ],
            )
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        return row.int("fencing_token");
    }
    let until = now + chrono::Duration::milliseconds(lease_ms(lease));
    let token = tx
        .fetch_optional(
            "UPDATE flows SET status = 'running', lease_owner = $2, lease_expires_at = $3, \
             fencing_token = fencing_token + 1, version = version + $4, updated_at = $5 \
             WHERE id = $1 RETURNING fencing_token",
            &[
                s.flow_id.into(),
                worker.into(),
                until.into(),
                bump.into(),
                now.into(),
            ],
        )
        .await?
        .ok_or(sqlx::Error::RowNotFound)?
        .int("fencing_token")?;
    tx.execute(
        "UPDATE flow_phases SET status = 'running', attempts = $3, started_at = $4, error = NULL \
         WHERE flow_id = $1 AND idx = $2",
        &[
            s.flow_id.into(),
            (s.index as i64).into(),
            s.attempt.into(),
            now.into(),
        ],
    )
    .await?;
    if let Some(from) = s.from {
        append_event(
            tx,
            s.flow_id,
            s.account,
            now,
            NewEvent::new("status_changed")
                .status(Some(from), FlowStatus::Running)
                .phase(Some(s.phase)),
        )
        .await?;
    }
    record_started(tx, s, worker, token, now).await?;
    Ok(token)
}

/// Appends the `phase_started` event of `s`, under fencing token `token` (the
/// transaction path; on PostgreSQL the one-statement steps build the same detail).
pub(super) async fn record_started(
    tx: &mut Tx,
    s: &PhaseStart<'_>,
    worker: &str,
    token: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    append_event(
        tx,
        s.flow_id,
        s.account,
        now,
        NewEvent::new("phase_started")
            .phase(Some(s.phase))
            .detail(json!({"attempt": s.attempt, "phase_index": s.index, "worker": worker, "fencing_token": token})),
    )
    .await
}

/// Extends the lease while a handler runs. False: the lease is gone (expired and taken,
/// or the flow was paused/cancelled/deleted), stop and discard.
pub(crate) async fn renew(
    db: &Db,
    c: &Claimed,
    worker: &str,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let mut tx = begin(db).await?;
    let n = if tx.is_postgres() {
        tx.execute(
            "UPDATE flows SET lease_expires_at = now() + ($4 * interval '1 millisecond') \
             WHERE id = $1 AND lease_owner = $2 AND fencing_token = $3 AND status = 'running'",
            &[
                c.flow_id.into(),
                worker.into(),
                c.token.into(),
                lease_ms(lease).into(),
            ],
        )
        .await?
    } else {
        let until = sql::now() + chrono::Duration::milliseconds(lease_ms(lease));
        tx.execute(
            "UPDATE flows SET lease_expires_at = $4 \
             WHERE id = $1 AND lease_owner = $2 AND fencing_token = $3 AND status = 'running'",
            &[
                c.flow_id.into(),
                worker.into(),
                c.token.into(),
                until.into(),
            ],
        )
        .await?
    };
    tx.commit().await?;
    Ok(n == 1)
}

/// How a finished phase is recorded.
#[derive(Debug, Clone)]
pub(crate) enum PhaseResult {
    Completed {
        output: Value,
        duration_ms: i64,
        /// `status-stops-updating` defect: record the phase but leave the flow's status and
        /// the phase's status as they were.
        freeze_status: bool,
    },
    Retry {
        delay: Duration,
        code: String,
        message: String,
        duration_ms: i64,
        max_attempts: u32,
    },
    Failed {
        code: String,
        message: String,
        duration_ms: i64,
    },
}

/// Fence clause shared by every commit: `$1` flow, `$2` worker, `$3` token.
pub(super) const FENCE: &str =
    "id = $1 AND lease_owner = $2 AND fencing_token = $3 AND status = 'running'";

/// What became of a phase's result.
pub(crate) enum Committed {
    /// The lease no longer held: nothing was recorded.
    Discarded,
    Recorded,
    /// Recorded, and the flow's next phase started under the same lease (see
    /// [`handoff`]): run it.
    Next(Box<Claimed>),
}

/// Records a phase's outcome and moves the flow on, in one transaction, only if the lease
/// still holds.
pub(crate) async fn commit(
    db: &Db,
    c: &Claimed,
    worker: &str,
    lease: Duration,
    outcome: PhaseResult,
) -> Result<Committed, sqlx::Error> {
    let outcome = match outcome {
        PhaseResult::Completed {
            output,
            duration_ms,
            freeze_status: false,
        } if handoff::next_is_automatic(c) => {
            let done = handoff::Completed {
                output,
                duration_ms,
            };
            return handoff::complete_and_start(db, c, worker, lease, done).await;
        }
        PhaseResult::Completed {
            output,
            duration_ms,
            freeze_status: false,
        } if db.is_postgres() && c.phase_index + 1 == c.phase_count => {
            let done = handoff::Completed {
                output,
                duration_ms,
            };
            return handoff::finish_pg(db, c, worker, done).await;
        }
        other => other,
    };
    let mut tx = begin(db).await?;
    let now = sql::now();
    let idx = c.phase_index as i64;
    let fence: [P; 3] = [c.flow_id.into(), worker.into(), c.token.into()];
    let phase = Some(c.phase.as_str());
    match outcome {
        PhaseResult::Completed {
            output,
            duration_ms,
            freeze_status,
        } => {
            let last = c.phase_index + 1 >= c.phase_count;
            let (status, completed_at, runnable_at) = if last && !freeze_status {
                (FlowStatus::Completed, Some(now), None)
            } else if last {
                (FlowStatus::Running, None, None)
            } else {
                (FlowStatus::Running, None, Some(now))
            };
            let mut p = fence.to_vec();
            p.extend([
                P::Int(idx),
                status.as_str().into(),
                P::Ts(completed_at),
                P::Ts(runnable_at),
                now.into(),
            ]);
            let n = tx
                .execute(
                    &format!(
                        "UPDATE flows SET current_phase_index = $4 + 1, status = $5, completed_at = $6, \
                         runnable_at = $7, lease_owner = NULL, lease_expires_at = NULL, \
                         version = version + 1, updated_at = $8 WHERE {FENCE} AND current_phase_index = $4"
                    ),
                    &p,
                )
                .await?;
            if n == 0 {
                return Ok(Committed::Discarded);
            }
            let phase_status = if freeze_status {
                "running"
            } else {
                "completed"
            };
            record_completed(&mut tx, c, phase_status, output, duration_ms, now).await?;
            if status == FlowStatus::Completed {
                record(
                    &mut tx,
                    c,
                    now,
                    NewEvent::new("status_changed")
                        .status(Some(FlowStatus::Running), FlowStatus::Completed),
                )
                .await?;
            }
        }
        PhaseResult::Retry {
            delay,
            code,
            message,
            duration_ms,
            max_attempts,
        } => {
            let at = now + chrono::Duration::milliseconds(lease_ms(delay));
            let mut p = fence.to_vec();
            p.extend([at.into(), now.into()]);
            let n = tx
                .execute(
                    &format!(
                        "UPDATE flows SET runnable_at = $4, lease_owner = NULL, lease_expires_at = NULL, \
                         version = version + 1, updated_at = $5 WHERE {FENCE}"
                    ),
                    &p,
                )
                .await?;
            if n == 0 {
                return Ok(Committed::Discarded);
            }
            tx.execute(
                "UPDATE flow_phases SET status = 'pending', error = $3, duration_ms = $4 WHERE flow_id = $1 AND idx = $2",
                &[c.flow_id.into(), idx.into(), format!("{code}: {message}").into(), duration_ms.into()],
            )
            .await?;
            record(
                &mut tx,
                c,
                now,
                NewEvent::new("phase_retry_scheduled")
                    .phase(phase)
                    .detail(json!({ "attempt": c.attempt, "max_attempts": max_attempts, "delay_ms": lease_ms(delay), "runnable_at": at, "code": code, "message": message, })),
            )
            .await?;
        }
        PhaseResult::Failed {
            code,
            message,
            duration_ms,
        } => {
            let error = json!({"phase": c.phase, "code": code, "message": message});
            let mut p = fence.to_vec();
            p.extend([P::Json(Some(error.clone())), now.into()]);
            let n = tx
                .execute(
                    &format!(
                        "UPDATE flows SET status = 'failed', error = $4, runnable_at = NULL, lease_owner = NULL, \
                         lease_expires_at = NULL, version = version + 1, updated_at = $5 WHERE {FENCE}"
                    ),
                    &p,
                )
                .await?;
            if n == 0 {
                return Ok(Committed::Discarded);
            }
            tx.execute(
                "UPDATE flow_phases SET status = 'failed', error = $3, completed_at = $4, duration_ms = $5 \
                 WHERE flow_id = $1 AND idx = $2",
                &[
                    c.flow_id.into(),
                    idx.into(),
                    format!("{code}: {message}").into(),
                    now.into(),
                    duration_ms.into(),
                ],
            )
            .await?;
            record(
                &mut tx,
                c,
                now,
                NewEvent::new("phase_failed")
                    .phase(phase)
                    .detail(json!({"attempt": c.attempt, "code": code, "message": message})),
            )
            .await?;
            record(
                &mut tx,
                c,
                now,
                NewEvent::new("status_changed")
                    .status(Some(FlowStatus::Running), FlowStatus::Failed)
                    .phase(phase)
                    .detail(error),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Committed::Recorded)
}

/// The `phase_completed` event's detail.
pub(super) fn completed_detail(c: &Claimed, duration_ms: i64) -> Value {
    json!({"attempt": c.attempt, "duration_ms": duration_ms, "phase_index": c.phase_index})
}

/// Writes `c`'s phase result (its row with `phase_status`) and the `phase_completed` event,
/// step by step: the transaction path (SQLite, and every outcome that is not a one-statement
/// completion on PostgreSQL).
pub(super) async fn record_completed(
    tx: &mut Tx,
    c: &Claimed,
    phase_status: &str,
    output: Value,
    duration_ms: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    tx.execute(
        "UPDATE flow_phases SET status = $3, output = $4, completed_at = $5, duration_ms = $6, error = NULL \
         WHERE flow_id = $1 AND idx = $2",
        &[
            c.flow_id.into(),
            (c.phase_index as i64).into(),
            phase_status.into(),
            P::Json(Some(output)),
            now.into(),
            duration_ms.into(),
        ],
    )
    .await?;
    record(
        tx,
        c,
        now,
        NewEvent::new("phase_completed")
            .phase(Some(c.phase.as_str()))
            .detail(completed_detail(c, duration_ms)),
    )
    .await
}

/// After a discarded result: if nobody holds the flow any more (it was paused, cancelled
/// or deleted), the phase is no longer running.
pub(crate) async fn settle_discarded(db: &Db, c: &Claimed) -> Result<(), sqlx::Error> {
    let mut tx = begin(db).await?;
    tx.execute(
        "UPDATE flow_phases SET status = 'pending' WHERE flow_id = $1 AND idx = $2 AND status = 'running' \
         AND EXISTS (SELECT 1 FROM flows f WHERE f.id = $1 AND f.lease_owner IS NULL \
         AND f.status IN ('paused', 'cancelled', 'deleted'))",
        &[c.flow_id.into(), (c.phase_index as i64).into()],
    )
    .await?;
    tx.commit().await
}

/// Gives a lease back without a result (shutdown mid-phase): the phase runs again at once,
/// on this or another process.
pub(crate) async fn release(db: &Db, c: &Claimed, worker: &str) -> Result<(), sqlx::Error> {
    let mut tx = begin(db).await?;
    let n = tx
        .execute(
            &format!("UPDATE flows SET lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"),
            &[c.flow_id.into(), worker.into(), c.token.into()],
        )
        .await?;
    if n == 1 {
        tx.execute(
            "UPDATE flow_phases SET status = 'pending' WHERE flow_id = $1 AND idx = $2 AND status = 'running'",
            &[c.flow_id.into(), (c.phase_index as i64).into()],
        )
        .await?;
    }
    tx.commit().await
}

/// When the next flow may become claimable: the earliest `runnable_at` of a runnable flow,
/// or the expiry of its lease if later. None: nothing is scheduled.
pub(crate) async fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let mut tx = Tx::begin(db, false).await?;
    if tx.is_postgres() {
        tx.execute("SET LOCAL ROLE flowgate_engine", &[]).await?;
    }
    let row = tx
        .fetch_optional(
            "SELECT MIN(CASE WHEN lease_expires_at IS NOT NULL AND lease_expires_at > runnable_at \
             THEN lease_expires_at ELSE runnable_at END) AS due \
             FROM flows WHERE runnable_at IS NOT NULL AND status IN ('initialized', 'running')",
            &[],
        )
        .await?;
    tx.commit().await?;
    match row {
        None => Ok(None),
        Some(r) => opt_ts_any(&r, "due"),
    }
}

/// A timestamp from an expression column: SQLite gives it back as untyped text.
fn opt_ts_any(r: &Row, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    match r {
        Row::Pg(_) => r.opt_ts(col),
        Row::Lite(_) => Ok(r
            .opt_text(col)?
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc))),
    }
}

/// Gauges for `/ready` and `/metrics`: runnable flows waiting for a worker.
pub(crate) struct Gauges {
    pub queue_depth: i64,
}

pub(crate) async fn gauges(db: &Db) -> Result<Gauges, sqlx::Error> {
    let mut tx = Tx::begin(db, false).await?;
    let now = sql::now();
    let pg = tx.is_postgres();
    let (clock, params) = statement_clock(pg, now);
    if pg {
        tx.execute("SET LOCAL ROLE flowgate_engine", &[]).await?;
    }
    let depth = tx
        .fetch_optional(
            &format!(
                "SELECT COUNT(*) AS n FROM flows f WHERE {}",
                claimable_sql("f", clock)
            ),
            &params,
        )
        .await?;
    let queue_depth = match depth {
        Some(r) => r.int("n")?,
        None => 0,
    };
    tx.commit().await?;
    Ok(Gauges { queue_depth })
}

/// Upserts this worker's heartbeat row.
pub(crate) async fn heartbeat(
    db: &Db,
    worker: &str,
    started: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = begin(db).await?;
    tx.execute(
        "INSERT INTO worker_heartbeats (worker_id, started_at, last_seen) VALUES ($1, $2, $3) \
         ON CONFLICT (worker_id) DO UPDATE SET last_seen = excluded.last_seen",
        &[worker.into(), started.into(), sql::now().into()],
    )
    .await?;
    tx.commit().await
}

/// Removes heartbeat rows: this process's at shutdown, and any not seen for `stale`.
pub(crate) async fn forget_workers(
    db: &Db,
    ours: &[String],
    stale: Duration,
) -> Result<(), sqlx::Error> {
    let mut tx = begin(db).await?;
    let cutoff = sql::now() - chrono::Duration::milliseconds(lease_ms(stale));
    tx.execute(
        "DELETE FROM worker_heartbeats WHERE last_seen < $1",
        &[cutoff.into()],
    )
    .await?;
    for w in ours {
        tx.execute(
            "DELETE FROM worker_heartbeats WHERE worker_id = $1",
            &[w.as_str().into()],
        )
        .await?;
    }
    tx.commit().await
}
