//! Tenants: client accounts, their engagements, and API keys bound to one account.
//! Keys are random, shown once, and stored only as SHA-256 hex.

use crate::store::db::Db;
use crate::store::sql::{self, Tx, P};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What `provision_tenant` returns; printed once by `flowgate tenant create`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TenantCredentials {
    pub client_account_id: Uuid,
    pub name: String,
    /// The first engagement is the account's default (used when no `X-Engagement-ID`).
    pub engagements: Vec<EngagementInfo>,
    /// The bearer key. Not stored anywhere in clear; cannot be shown again.
    pub api_key: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EngagementInfo {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("invalid tenant: {0}")]
    Invalid(String),
    #[error("database error while creating the tenant: {0}")]
    Database(#[from] sqlx::Error),
}

/// SHA-256 hex of an API key: the form in which keys are stored and looked up.
pub(crate) fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("fg_{}", hex::encode(bytes))
}

/// Creates a client account with its engagements (a `default` one when `engagements` is
/// empty) and one API key, in one transaction.
pub async fn provision_tenant(
    db: &Db,
    name: &str,
    engagements: &[&str],
) -> Result<TenantCredentials, TenantError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(TenantError::Invalid(
            "the tenant name must have 1 to 200 characters".into(),
        ));
    }
    let mut names: Vec<String> = engagements.iter().map(|e| e.trim().to_string()).collect();
    if names.is_empty() {
        names.push("default".into());
    }
    if names
        .iter()
        .any(|n| n.is_empty() || n.chars().count() > 200)
    {
        return Err(TenantError::Invalid(
            "engagement names must have 1 to 200 characters".into(),
        ));
    }

    let account = Uuid::now_v7();
    let key = new_key();
    let now = sql::now();
    let mut tx = Tx::begin(db, true).await?;
    tx.execute(
        "INSERT INTO client_accounts (id, name, created_at) VALUES ($1, $2, $3)",
        &[account.into(), name.into(), now.into()],
    )
    .await?;
    let mut infos = Vec::with_capacity(names.len());
    for (i, n) in names.into_iter().enumerate() {
        let id = Uuid::now_v7();
        tx.execute(
            "INSERT INTO engagements (id, client_account_id, name, is_default, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                id.into(),
                account.into(),
                n.clone().into(),
                (i == 0).into(),
                now.into(),
            ],
        )
        .await?;
        infos.push(EngagementInfo { id, name: n });
    }
    tx.execute(
        "INSERT INTO api_keys (id, client_account_id, key_prefix, key_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            Uuid::now_v7().into(),
            account.into(),
            key.chars().take(7).collect::<String>().into(),
            hash_key(&key).into(),
            now.into(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(TenantCredentials {
        client_account_id: account,
        name: name.to_string(),
        engagements: infos,
        api_key: key,
    })
}

/// The client account a key belongs to, if the key is known and not revoked. The lookup is
/// by hash, so comparing the secret never depends on how many characters match.
pub(crate) async fn account_for_key(db: &Db, key: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let row = sql::fetch_optional(
        db,
        "SELECT client_account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        &[P::from(hash_key(key))],
    )
    .await?;
    row.map(|r| r.uuid("client_account_id")).transpose()
}
