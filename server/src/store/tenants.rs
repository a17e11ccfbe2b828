//! Tenants: client accounts, their engagements, and API keys bound to one account.
//! Keys are random, shown once, and stored only as SHA-256 hex.

use crate::store::db::Db;
use crate::store::sql::{self, Tx, P};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
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

/// Remembers which account an API key belongs to and which engagement a request selects,
/// for `ttl`, so that an authenticated request does not ask the database twice before its
/// own query. Consistency: a revoked key keeps working, and a new engagement or key is
/// seen, at most `ttl` late (revocation has no API; an operator revoking in SQL waits
/// `ttl`, 30 s by default). Engagements never change account, so a remembered owner is
/// never wrong. Unknown keys are not remembered (a flood of wrong keys cannot fill the
/// cache); the cache holds at most `MAX_ENTRIES` entries per kind and is emptied when
/// full. Keys are remembered by their hash only.
pub(crate) struct Directory {
    ttl: Duration,
    keys: TtlMap<String, Uuid>,
    engagements: TtlMap<(Uuid, Option<Uuid>), Uuid>,
}

const MAX_ENTRIES: usize = 10_000;

struct TtlMap<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K: std::hash::Hash + Eq, V: Copy> TtlMap<K, V> {
    fn new() -> Self {
        TtlMap(Mutex::new(HashMap::new()))
    }

    fn get(&self, k: &K, ttl: Duration) -> Option<V> {
        let map = self.0.lock().ok()?;
        map.get(k)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(v, _)| *v)
    }

    fn put(&self, k: K, v: V) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(k, (v, Instant::now()));
        }
    }
}

impl Directory {
    pub(crate) fn new(ttl: Duration) -> Self {
        Directory {
            ttl,
            keys: TtlMap::new(),
            engagements: TtlMap::new(),
        }
    }

    /// The client account of a known, unrevoked key. Looked up by hash, so comparing the
    /// secret never depends on how many characters match.
    pub(crate) async fn account_for_key(
        &self,
        db: &Db,
        key: &str,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let hash = hash_key(key);
        if let Some(a) = self.keys.get(&hash, self.ttl) {
            return Ok(Some(a));
        }
        let row = sql::fetch_optional(
            db,
            "SELECT client_account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            &[P::from(hash.clone())],
        )
        .await?;
        let account = row.map(|r| r.uuid("client_account_id")).transpose()?;
        if let Some(a) = account {
            self.keys.put(hash, a);
        }
        Ok(account)
    }

    /// The engagement a request acts in: `requested` if it is the account's, else (None)
    /// the account's default. None: not the account's (or no default).
    pub(crate) async fn engagement(
        &self,
        db: &Db,
        account: Uuid,
        requested: Option<Uuid>,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        if let Some(e) = self.engagements.get(&(account, requested), self.ttl) {
            return Ok(Some(e));
        }
        let row = match requested {
            Some(e) => {
                sql::fetch_optional(
                    db,
                    "SELECT id FROM engagements WHERE id = $1 AND client_account_id = $2",
                    &[e.into(), account.into()],
                )
                .await?
            }
            None => {
                sql::fetch_optional(
                    db,
                    "SELECT id FROM engagements WHERE client_account_id = $1 AND is_default \
                     ORDER BY created_at LIMIT 1",
                    &[account.into()],
                )
                .await?
            }
        };
        let engagement = row.map(|r| r.uuid("id")).transpose()?;
        if let Some(e) = engagement {
            self.engagements.put((account, requested), e);
        }
        Ok(engagement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_map_is_bounded() {
        let m: TtlMap<u32, u32> = TtlMap::new();
        m.put(1, 10);
        assert_eq!(m.get(&1, Duration::from_secs(30)), Some(10));
        assert_eq!(m.get(&1, Duration::ZERO), None);
        for i in 0..(MAX_ENTRIES as u32 + 5) {
            m.put(i, i);
        }
        let len = m.0.lock().map(|m| m.len()).unwrap_or(usize::MAX);
        assert!(len <= MAX_ENTRIES, "{len}");
    }
}
