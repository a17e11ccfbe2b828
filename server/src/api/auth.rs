//! Authentication: the bearer API key names the client account; `X-Engagement-ID` only
//! selects an engagement inside it (resolved in the request's transaction, see
//! `store::begin_scoped`).

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::defects::Defect;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use uuid::Uuid;

/// An authenticated caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) account: Uuid,
    /// From `X-Engagement-ID`; `None` selects the account's default engagement.
    pub(crate) engagement: Option<Uuid>,
}

fn uuid_header(headers: &HeaderMap, name: &str) -> Result<Option<Uuid>, ApiError> {
    let Some(raw) = headers.get(name) else {
        return Ok(None);
    };
    let text = raw
        .to_str()
        .map_err(|_| ApiError::invalid_header(name, "not valid text"))?
        .trim();
    Uuid::parse_str(text)
        .map(Some)
        .map_err(|_| ApiError::invalid_header(name, "expected a UUID"))
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let raw = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("missing `Authorization: Bearer <api key>` header")
    })?;
    let text = raw
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let mut parts = text.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or("");
    let token = parts.next().unwrap_or("").trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <api key>`",
        ));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(&parts.headers)?;
        let mut account = state
            .directory
            .account_for_key(&state.db, key)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        if state.defects.is_on(Defect::TenantLeak) {
            if let Some(claimed) = uuid_header(&parts.headers, "x-client-account-id")? {
                account = claimed;
            }
        }
        let engagement = uuid_header(&parts.headers, "x-engagement-id")?;
        Ok(Caller {
            account,
            engagement,
        })
    }
}

impl Caller {
    /// Opens a transaction scoped to this caller's tenant (row-level security set), with
    /// its engagement resolved; 404 `engagement_not_found` for a foreign one.
    pub(crate) async fn begin(
        &self,
        state: &AppState,
        writes: bool,
        role: crate::store::Role,
    ) -> Result<(crate::store::sql::Tx, crate::store::Scope), ApiError> {
        let scope = self.scope(state).await?;
        let tx = crate::store::begin_scoped(&state.db, scope, writes, role).await?;
        Ok((tx, scope))
    }

    /// This caller's tenant and engagement; 404 `engagement_not_found` for a foreign one.
    pub(crate) async fn scope(&self, state: &AppState) -> Result<crate::store::Scope, ApiError> {
        Ok(
            crate::store::resolve_scope(&state.db, &state.directory, self.account, self.engagement)
                .await?,
        )
    }
}
