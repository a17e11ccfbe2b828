//! Telling every process's engine that new flows are waiting (PostgreSQL only).
//!
//! Updates that make a flow claimable notify from a trigger (`migrations/postgres/
//! 0004_notify_claimable.sql`). Inserts do not (0006): a NOTIFY makes its transaction take
//! PostgreSQL's notify-queue lock at commit, so one per create made concurrent creates
//! commit one at a time. Instead the API rings [`NewFlowBell`] after each create commits,
//! and one task sends the NOTIFY: rings that arrive while one is in flight, or within
//! [`SPACING`] of the last, collapse into the next. A listener therefore hears of a new
//! flow at most `SPACING` plus a round trip after its commit, whatever the create rate;
//! workers of the creating process are woken in-process at once. Should a NOTIFY fail,
//! workers still find the flow at their next poll.

use crate::store::db::Db;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The notification channel every engine listens on.
pub const NOTIFY_CHANNEL: &str = "flowgate_flows";

/// Least time between two NOTIFYs sent for new flows.
pub(crate) const SPACING: Duration = Duration::from_millis(5);

/// Announces new flows to other processes' engines.
pub(crate) struct NewFlowBell {
    rung: Arc<Notify>,
}

impl NewFlowBell {
    /// The bell and its sender task (stopped by `shutdown`); None on SQLite, where one
    /// process owns the database and its engine is woken in-process.
    pub(crate) fn start(db: &Db, shutdown: CancellationToken) -> Option<NewFlowBell> {
        let Db::Postgres(pool) = db else {
            return None;
        };
        let rung = Arc::new(Notify::new());
        tokio::spawn(send_notifications(pool.clone(), rung.clone(), shutdown));
        Some(NewFlowBell { rung })
    }

    /// A flow was created and committed. Never blocks.
    pub(crate) fn ring(&self) {
        // At most one stored permit: rings before the sender wakes collapse into one.
        self.rung.notify_one();
    }
}

async fn send_notifications(pool: sqlx::PgPool, rung: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = rung.notified() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %e, "could not announce new flows; workers will poll");
        }
        tokio::select! {
            _ = tokio::time::sleep(SPACING) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
