//! Limits on the request line and headers, answered as problem+json (414, 431) rather
//! than by hyper's bare status lines. hyper's own limits are set above these in
//! `App::serve`, so a request over them reaches this middleware.

use crate::api::error::{ApiError, MAX_HEADER_COUNT};
use crate::api::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub(crate) async fn request_limits(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let config = &state.config;
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri_len > config.max_uri_bytes {
        return ApiError::uri_too_long(config.max_uri_bytes).into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > config.max_header_bytes || headers.len() > MAX_HEADER_COUNT {
        return ApiError::header_fields_too_large(config.max_header_bytes).into_response();
    }
    next.run(request).await
}
