//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` stores the error in the response's
//! extensions and the `observe` middleware renders the final body, because only the
//! middleware knows the request id and the active defects (which change the rendering).

use crate::domain::defects::{Defect, Defects};
use crate::store::StoreError;

/// Most header fields a request may have (hyper's own limit is set above it, so that the
/// answer is ours: problem+json).
pub(crate) const MAX_HEADER_COUNT: usize = 100;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// One invalid field of a request. `field` is for people; the machine-readable location
/// is exactly one of `pointer` (a body member), `parameter` (a query parameter) or
/// `header` (a request header).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `flow_type` or `raw_data[1]`.
    pub field: String,
    /// RFC 6901 JSON Pointer to the offending member of the request body, e.g.
    /// `/raw_data/1` (`""` is the whole body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The offending query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The offending request header, lowercase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    pub message: String,
}

impl FieldError {
    /// A member of the request body, named by its path (`configuration.simulate`,
    /// `raw_data[1]`, `(body)` for the body itself).
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        FieldError {
            pointer: Some(json_pointer(&field)),
            field,
            parameter: None,
            header: None,
            message: message.into(),
        }
    }
    pub(crate) fn query(name: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: name.to_string(),
            pointer: None,
            parameter: Some(name.to_string()),
            header: None,
            message: message.into(),
        }
    }
    pub(crate) fn header(name: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: name.to_string(),
            pointer: None,
            parameter: None,
            header: Some(name.to_ascii_lowercase()),
            message: message.into(),
        }
    }
}

/// `raw_data[1].name` → `/raw_data/1/name`; `(body)` → `""` (RFC 6901).
fn json_pointer(field: &str) -> String {
    if field == "(body)" {
        return String::new();
    }
    let mut out = String::new();
    for part in field.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push('/');
            out.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            out.push('/');
            out.push_str(index);
        }
    }
    out
}

/// The problem+json body, as documented in `/openapi.json`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[schema(example = "urn:flowgate:problem:validation_failed")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code (see ARCHITECTURE.md).
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Present on `illegal_transition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<String>,
    pub request_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) current_status: Option<String>,
    /// Seconds for the `Retry-After` header (429).
    pub(crate) retry_after: Option<u32>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            current_status: None,
            retry_after: None,
        }
    }

    pub(crate) fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Malformed JSON body",
            detail,
        )
    }
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "the request body must be sent with `Content-Type: application/json`",
        )
    }
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }
    /// 422 with one entry per invalid field.
    pub(crate) fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Request validation failed",
            detail,
        );
        e.errors = errors;
        e
    }
    pub(crate) fn unknown_flow_type(name: &str, known: &[&str]) -> Self {
        let message = format!(
            "unknown flow type `{name}`; expected one of: {}",
            known.join(", ")
        );
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_flow_type",
            "Unknown flow type",
            format!("flow_type: {message}"),
        );
        e.errors = vec![FieldError::new("flow_type", message)];
        e
    }
    pub(crate) fn invalid_id(raw: &str) -> Self {
        let shown: String = raw.chars().take(64).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "Invalid id",
            format!("`{shown}` is not a valid UUID"),
        )
    }
    pub(crate) fn invalid_header(name: &str, why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "Invalid header",
            format!("header `{name}`: {why}"),
        );
        e.errors = vec![FieldError::header(name, why)];
        e
    }
    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "no such flow",
        )
    }
    pub(crate) fn engagement_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "engagement_not_found",
            "Engagement not found",
            "no such engagement for this client account",
        )
    }
    pub(crate) fn route_not_found(path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "Route not found",
            format!("no route for `{shown}`"),
        )
    }
    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            format!("method {method} is not allowed on this route"),
        )
    }
    pub(crate) fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }
    pub(crate) fn illegal_transition(action: &str, current: &str) -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "illegal_transition",
            "Illegal state transition",
            format!("cannot {action} a flow whose status is `{current}`"),
        );
        e.current_status = Some(current.to_string());
        e
    }
    pub(crate) fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "Idempotency key reused",
            "this Idempotency-Key was already used with a different request body",
        )
    }
    pub(crate) fn simulated_faults_disabled() -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "simulated_faults_disabled",
            "Simulated faults are disabled",
            format!(
                "configuration.{}: the server was not started with --allow-simulated-faults",
                crate::domain::SIMULATE_KEY
            ),
        );
        e.errors = vec![FieldError::new(
            format!("configuration.{}", crate::domain::SIMULATE_KEY),
            "simulated faults are disabled on this server",
        )];
        e
    }
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
            "the server failed to handle this request; quote the request_id when reporting it",
        )
    }
    pub(crate) fn uri_too_long(limit: usize) -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "URI too long",
            format!("the request target is longer than {limit} bytes"),
        )
    }
    pub(crate) fn header_fields_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large",
            "Request header fields too large",
            format!("the request headers are larger than {limit} bytes, or more than {MAX_HEADER_COUNT} fields"),
        )
    }
    pub(crate) fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "Request timeout",
            "the request body did not arrive in time",
        )
    }
    pub(crate) fn rate_limited(rate: u32, burst: u32, retry_after: u32) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            format!(
                "this client account may create {rate} flows per second (bursts of {burst}); \
                 retry in {retry_after} s"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }
    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service unavailable",
            "the database is unreachable or overloaded; retry later",
        )
    }

    /// Errors caused by the shape of the request (the `server-error-on-bad-input` defect
    /// turns exactly these into 500s).
    fn is_bad_input(&self) -> bool {
        matches!(
            self.code,
            "malformed_json"
                | "unsupported_media_type"
                | "payload_too_large"
                | "validation_failed"
                | "unknown_flow_type"
                | "invalid_id"
                | "invalid_header"
        )
    }

    /// The final response, with the request id and the active defects applied.
    pub(crate) fn render(
        &self,
        request_id: &str,
        defects: &Defects,
        mut base: Response,
    ) -> Response {
        let (status, content_type, body) = if defects.is_on(Defect::OpaqueErrors) {
            (
                StatusCode::OK,
                "application/json",
                json!({"success": false}).to_string(),
            )
        } else if defects.is_on(Defect::ServerErrorOnBadInput) && self.is_bad_input() {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                fake_traceback(self),
            )
        } else {
            let mut body = Map::new();
            body.insert(
                "type".into(),
                json!(format!("urn:flowgate:problem:{}", self.code)),
            );
            body.insert("title".into(), json!(self.title));
            body.insert("status".into(), json!(self.status.as_u16()));
            body.insert("detail".into(), json!(self.detail));
            if !defects.is_on(Defect::ProblemWithoutCode) {
                body.insert("code".into(), json!(self.code));
            }
            if !self.errors.is_empty() {
                body.insert("errors".into(), json!(self.errors));
            }
            if let Some(s) = &self.current_status {
                body.insert("current_status".into(), json!(s));
            }
            body.insert("request_id".into(), json!(request_id));
            (
                self.status,
                "application/problem+json",
                Value::Object(body).to_string(),
            )
        };
        *base.status_mut() = status;
        base.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        base.headers_mut().remove(header::CONTENT_LENGTH);
        *base.body_mut() = axum::body::Body::from(body);
        base
    }
}

/// What the `server-error-on-bad-input` defect answers: the kind of page a framework shows
/// when a handler crashes on input it did not validate.
fn fake_traceback(e: &ApiError) -> String {
    format!(
        "Internal Server Error\n\nTraceback (most recent call last):\n  \
         File \"/app/backend/api/v1/endpoints/flows.py\", line 214, in create_flow\n    \
         flow_type = payload[\"flow_type\"]\n  \
         File \"/app/backend/services/flow_service.py\", line 88, in validate\n    \
         raise ValueError(message)\nValueError: {} ({})\n",
        e.detail, e.code
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A plain body in case the response escapes the `observe` middleware; normally the
        // middleware re-renders it with the request id.
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json!({
                "type": format!("urn:flowgate:problem:{}", self.code),
                "title": self.title,
                "status": self.status.as_u16(),
                "detail": self.detail,
                "code": self.code,
            })
            .to_string(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res.extensions_mut().insert(self);
        res
    }
}

/// True when the error says the database is unavailable rather than that the query was
/// wrong: the pool, the connection, or SQLSTATE class 08 (connection exception) and 57
/// (operator intervention: admin shutdown, backend terminated, cannot connect now).
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
        _ => false,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(e) => e.into(),
            StoreError::FlowNotFound => ApiError::not_found(),
            StoreError::EngagementNotFound => ApiError::engagement_not_found(),
            StoreError::IllegalTransition { verb, current } => {
                ApiError::illegal_transition(verb, current.as_str())
            }
            StoreError::IdempotencyKeyReused => ApiError::idempotency_key_reused(),
            StoreError::Contended => ApiError::unavailable(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            e if database_unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "database error");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json_pointer;

    #[test]
    fn field_paths_become_json_pointers() {
        assert_eq!(json_pointer("flow_type"), "/flow_type");
        assert_eq!(json_pointer("raw_data[1]"), "/raw_data/1");
        assert_eq!(json_pointer("raw_data[1].name"), "/raw_data/1/name");
        assert_eq!(
            json_pointer("configuration.simulate"),
            "/configuration/simulate"
        );
        assert_eq!(json_pointer("a/b~c"), "/a~1b~0c");
        assert_eq!(json_pointer("(body)"), "");
    }
}
