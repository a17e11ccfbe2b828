//! Problem details (RFC 9457) in this implementation's own wording, and the request id
//! stamped on every response.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<Value>,
    pub extra: Vec<(&'static str, Value)>,
}

/// The body, kept as a value so that [`stamp`] can add the request id.
#[derive(Clone)]
struct ProblemBody(Value);

impl Problem {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// A field error located by `kind` (`pointer`, `parameter` or `header`).
    pub fn at(mut self, kind: &str, place: &str, message: &str) -> Problem {
        self.errors.push(
            json!({ kind: place, "field": place.trim_start_matches('/'), "message": message }),
        );
        self
    }

    pub fn with(mut self, member: &'static str, value: Value) -> Problem {
        self.extra.push((member, value));
        self
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            401,
            "unauthorized",
            "Sign in with a bearer token issued to your account.",
        )
    }

    pub fn not_found() -> Problem {
        Problem::new(404, "not_found", "Nothing with that id is visible to you.")
    }

    pub fn invalid_id() -> Problem {
        Problem::new(400, "invalid_id", "Identifiers are UUIDs.").at(
            "parameter",
            "flow_id",
            "not a UUID",
        )
    }

    pub fn illegal(current: &str) -> Problem {
        Problem::new(
            409,
            "illegal_transition",
            "That action is not possible right now.",
        )
        .with("current_status", json!(current))
    }

    pub fn validation(errors: Vec<Value>) -> Problem {
        let mut p = Problem::new(
            422,
            "validation_failed",
            "Some of what you sent is not acceptable; see errors.",
        );
        p.errors = errors;
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://second.example/problems/{}", self.code.replace('_', "-")),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors);
        }
        for (k, v) in self.extra {
            body[k] = v;
        }
        let mut res = (self.status, Body::empty()).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"second\""),
            );
        }
        res.extensions_mut().insert(ProblemBody(body));
        res
    }
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Every response gets `x-request-id`; a problem's body gets it as `request_id`.
pub async fn stamp(req: Request, next: Next) -> Response {
    let id = format!(
        "rq{:08x}",
        REQUESTS.fetch_add(1, Ordering::Relaxed) + 0x1000
    );
    let mut res = next.run(req).await;
    if let Some(ProblemBody(mut body)) = res.extensions_mut().remove::<ProblemBody>() {
        body["request_id"] = json!(id);
        let status = res.status();
        let headers = res.headers().clone();
        res = (status, body.to_string()).into_response();
        res.headers_mut().extend(headers);
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
