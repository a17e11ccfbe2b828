//! The HTTP API: routes, shared state and middleware.

pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod compat;
pub(crate) mod error;
pub(crate) mod flows;
pub(crate) mod health;
pub(crate) mod limits;
pub(crate) mod observe;
pub(crate) mod openapi;
pub(crate) mod rate;

use crate::domain::defects::Defects;
use crate::engine::port::EngineHooks;
use crate::store::db::Db;
use crate::ServerConfig;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

/// What every handler can reach. Cloned for each request (every extractor and middleware
/// that takes the state), so it is one reference count.
#[derive(Clone)]
pub(crate) struct AppState(Arc<StateParts>);

impl AppState {
    pub(crate) fn new(parts: StateParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

pub(crate) struct StateParts {
    pub(crate) db: Db,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) defects: Defects,
    pub(crate) engine: Arc<dyn EngineHooks>,
    pub(crate) metrics: Arc<observe::Metrics>,
    /// Remembered key → account and engagement lookups.
    pub(crate) directory: Arc<crate::store::tenants::Directory>,
    /// Per-tenant create rate limit; None: no limit.
    pub(crate) create_rate: Option<Arc<rate::CreateRate>>,
    /// Announces new flows to other processes' engines; None on SQLite.
    pub(crate) new_flows: Option<Arc<crate::store::wakeups::NewFlowBell>>,
}

impl StateParts {
    /// A flow was created and committed: wake this process's workers at once and let the
    /// other processes know.
    pub(crate) fn flow_created(&self) {
        self.engine.wake();
        if let Some(bell) = &self.new_flows {
            bell.ring();
        }
    }
}

/// A flow id from the path: 400 `invalid_id` unless it is a UUID.
pub(crate) struct FlowId(pub(crate) Uuid);

impl<S: Send + Sync> FromRequestParts<S> for FlowId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => Uuid::parse_str(&raw)
                .map(FlowId)
                .map_err(|_| ApiError::invalid_id(&raw)),
            Err(_) => Err(ApiError::invalid_id("(undecodable)")),
        }
    }
}

async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::route_not_found(uri.path())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::method_not_allowed(method.as_str())
}

fn panic_to_problem(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    axum::response::IntoResponse::into_response(ApiError::internal())
}

/// The whole router, with middleware, over `state`.
pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let body_read_timeout = state.config.body_read_timeout;
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/health", get(compat::health))
        .route("/api/v1/flow-types", get(flows::flow_types))
        .route(
            "/api/v1/flows",
            post(flows::create_flow).get(flows::list_flows),
        )
        .route(
            "/api/v1/flows/{id}",
            get(flows::get_flow).delete(flows::delete_flow),
        )
        .route("/api/v1/flows/{id}/pause", post(flows::pause_flow))
        .route("/api/v1/flows/{id}/resume", post(flows::resume_flow))
        .route("/api/v1/flows/{id}/cancel", post(flows::cancel_flow))
        .route("/api/v1/flows/{id}/retry", post(flows::retry_flow))
        .route("/api/v1/flows/{id}/input", post(flows::input_flow))
        .route("/api/v1/flows/{id}/events", get(flows::flow_events))
        .route(
            "/api/v1/unified-discovery/flow/initialize",
            post(compat::initialize),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}/status",
            get(compat::status),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}/pause",
            post(compat::pause),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}/resume",
            post(compat::resume),
        )
        .route(
            "/api/v1/unified-discovery/flow/{id}",
            axum::routing::delete(compat::delete),
        )
        .route("/api/v1/discovery/flows/active", get(compat::active))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_read_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::request_limits,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
