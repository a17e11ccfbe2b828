//! Storage: every read and write of flows, tenants and events, on PostgreSQL or SQLite.
//!
//! Every tenant-scoped function runs inside a transaction opened by [`begin_scoped`] and
//! filters by client account and engagement; on PostgreSQL row-level security enforces
//! the same (two locks, either of which is enough). The store answers in its own terms
//! ([`StoreError`]); the API maps those to HTTP.

pub mod db;
pub(crate) mod events;
pub(crate) mod flows;
pub(crate) mod sql;
pub mod tenants;
pub(crate) mod transitions;

use crate::domain::FlowStatus;
use db::Db;
use sql::Tx;
use uuid::Uuid;

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

/// Opens a transaction for `account`, sets the tenant for row-level security, and resolves
/// the engagement (404 `engagement_not_found` when it is not the account's).
pub(crate) async fn begin_scoped(
    db: &Db,
    account: Uuid,
    engagement: Option<Uuid>,
    writes: bool,
    role: Role,
) -> Result<(Tx, Scope), StoreError> {
    let mut tx = Tx::begin(db, writes).await?;
    if tx.is_postgres() {
        let role_name = match role {
            Role::App => "flowgate_app",
            Role::Engine => "flowgate_engine",
        };
        tx.execute(
            "SELECT set_config('role', $1, true), set_config('flowgate.client_account_id', $2, true)",
            &[role_name.into(), account.to_string().into()],
        )
        .await?;
    }
    let row = match engagement {
        Some(e) => {
            tx.fetch_optional(
                "SELECT id FROM engagements WHERE id = $1 AND client_account_id = $2",
                &[e.into(), account.into()],
            )
            .await?
        }
        None => {
            tx.fetch_optional(
                "SELECT id FROM engagements WHERE client_account_id = $1 AND is_default \
                 ORDER BY created_at LIMIT 1",
                &[account.into()],
            )
            .await?
        }
    };
    let engagement = match row {
        Some(r) => r.uuid("id")?,
        None => return Err(StoreError::EngagementNotFound),
    };
    Ok((
        tx,
        Scope {
            account,
            engagement,
        },
    ))
}
