//! Storage: every read and write of flows, tenants and events, on PostgreSQL or SQLite.
//!
//! Every tenant-scoped function runs inside a transaction opened by [`begin_scoped`] and
//! filters by client account and engagement; on PostgreSQL row-level security enforces
//! the same (two locks, either of which is enough). The store answers in its own terms
//! ([`StoreError`]); the API maps those to HTTP.

pub mod db;
pub(crate) mod events;
pub(crate) mod flows;
#[cfg(test)]
pub(crate) mod plan_tests;
#[cfg(test)]
mod read_tests;
pub(crate) mod sql;
pub mod tenants;
pub(crate) mod transitions;
pub(crate) mod wakeups;

use crate::domain::FlowStatus;
use db::Db;
use sql::Tx;
use uuid::Uuid;

/// `WHERE` terms on `flows` for the one flow `$1` of account `$2` and engagement `$3`
/// (`store::flows::load_sql` and `flowgate_api.read_flow` write the same with an alias).
///
/// The engagement is compared with IS NOT DISTINCT FROM, the same as `=` on this NOT NULL
/// column, because PostgreSQL cannot make it an index condition, and the list's index
/// leads with the engagement (migration 0010): the primary key is the only index that
/// can serve these terms. Before, the list index `(client_account_id, engagement_id,
/// created_at, id)` matched them all and, on a table without statistics, cost the same as
/// the primary key; it was chosen and the plan kept per connection, so each read of one
/// flow walked every flow of its account (bench/api.sh: 8.4k GET/s on a table of one
/// flow, 0.7k once 24k flows had been created). `store/plan_tests.rs` holds reads to it.
pub(crate) const ONE_FLOW_IN_SCOPE: &str =
    "id = $1 AND client_account_id = $2 AND engagement_id IS NOT DISTINCT FROM $3";

/// Why a store operation did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// No such flow for this tenant (a foreign one looks exactly the same).
    #[error("no such flow")]
    FlowNotFound,
    /// The engagement is not one of the caller's account.
    #[error("no such engagement")]
    EngagementNotFound,
    /// The action is not legal from the flow's current status.
    #[error("cannot {verb} a flow that is {current}")]
    IllegalTransition {
        verb: &'static str,
        current: FlowStatus,
    },
    /// The idempotency key was used before with another request.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    /// Concurrent writers kept winning; the caller may retry later.
    #[error("too much contention on one flow")]
    Contended,
}

/// Who is asking: the client account (from the API key) and the engagement (from
/// `X-Engagement-ID` inside that account, else the account's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) account: Uuid,
    pub(crate) engagement: Uuid,
}

/// Which database role a scoped transaction runs as on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `flowgate_app`: row-level security limits every query to the tenant.
    App,
    /// `flowgate_engine`: sees every tenant; only the `list-ignores-tenant` defect uses it
    /// for API requests.
    Engine,
}

/// Opens a transaction for `scope` (see [`resolve_scope`]) with the tenant set for
/// row-level security, in the same round trip as the BEGIN: a scoped transaction costs
/// BEGIN, its own queries and COMMIT.
pub(crate) async fn begin_scoped(
    db: &Db,
    scope: Scope,
    writes: bool,
    role: Role,
) -> Result<Tx, StoreError> {
    let role_name = match role {
        Role::App => "flowgate_app",
        Role::Engine => "flowgate_engine",
    };
    Ok(Tx::begin_as(
        db,
        writes,
        role_name,
        &[("flowgate.client_account_id", scope.account)],
    )
    .await?)
}

/// The scope of a request: `account` and the engagement it selects (`engagement`, or the
/// account's default), from `directory`; `EngagementNotFound` when it is not the account's.
pub(crate) async fn resolve_scope(
    db: &Db,
    directory: &tenants::Directory,
    account: Uuid,
    engagement: Option<Uuid>,
) -> Result<Scope, StoreError> {
    let engagement = directory
        .engagement(db, account, engagement)
        .await?
        .ok_or(StoreError::EngagementNotFound)?;
    Ok(Scope {
        account,
        engagement,
    })
}
