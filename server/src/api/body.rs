//! Request bodies: content type, size, JSON syntax, then field-by-field validation that
//! names each bad field. Bodies are parsed into `serde_json::Value` and checked by hand so
//! that every problem is reported at once, with its field path.

use crate::api::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body as a JSON object: 415 without a JSON content type, 413 over the limit, 400 when
/// it is not JSON, 422 when it is JSON but not an object.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::payload_too_large(limit))
        }
        Err(rejection) if stalled(&rejection) => return Err(ApiError::request_timeout()),
        Err(rejection) => return Err(ApiError::malformed_json(rejection.body_text())),
    };
    if !is_json_content_type(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::malformed_json(format!("the body is not valid JSON: {e}")))?;
    if let Some(at) = find_nul(&value, String::new()) {
        return Err(ApiError::validation(vec![FieldError::new(
            at,
            "must not contain the NUL character (U+0000)",
        )]));
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::validation(vec![FieldError::new(
            "(body)",
            format!("expected a JSON object, found {}", kind(&other)),
        )])),
    }
}

pub(crate) use crate::domain::json_kind as kind;

/// True when the body stopped arriving (the body-read timeout of `api::router` fired):
/// the client's fault, 408, never a server error.
fn stalled(rejection: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The path (`configuration.a[2]`, or `(body)`) of the first member name or string that
/// contains U+0000. Valid JSON, but no database text type stores it (PostgreSQL refuses
/// it in `text` and `jsonb`), so it is refused as input rather than failing as a 500.
fn find_nul(v: &Value, at: String) -> Option<String> {
    let here = || {
        if at.is_empty() {
            "(body)".to_string()
        } else {
            at.clone()
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_nul(x, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(path)
            } else {
                find_nul(x, path)
            }
        }),
        _ => None,
    }
}

/// Collects field errors while reading an object.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    pub(crate) errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            errors: Vec::new(),
        }
    }

    fn wrong(&mut self, field: &str, expected: &str, found: &Value) {
        self.errors.push(FieldError::new(
            field,
            format!("expected {expected}, found {}", kind(found)),
        ));
    }

    /// A required string.
    pub(crate) fn required_string(&mut self, field: &str) -> Option<&'a str> {
        match self.map.get(field) {
            None => {
                self.errors.push(FieldError::new(field, "missing field"));
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.wrong(field, "a string", other);
                None
            }
        }
    }

    /// An optional string (null allowed) of at most `max` characters.
    pub(crate) fn optional_string(&mut self, field: &str, max: usize) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
            Some(Value::String(_)) => {
                self.errors.push(FieldError::new(
                    field,
                    format!("must have at most {max} characters"),
                ));
                None
            }
            Some(other) => {
                self.wrong(field, "a string", other);
                None
            }
        }
    }

    /// A required boolean.
    pub(crate) fn required_bool(&mut self, field: &str) -> Option<bool> {
        match self.map.get(field) {
            None => {
                self.errors.push(FieldError::new(field, "missing field"));
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.wrong(field, "a boolean", other);
                None
            }
        }
    }

    /// An optional object (null allowed); absent gives `{}`.
    pub(crate) fn optional_object(&mut self, field: &str) -> Value {
        match self.map.get(field) {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                self.wrong(field, "an object", other);
                Value::Object(Map::new())
            }
        }
    }

    /// An optional array of objects (null allowed).
    pub(crate) fn optional_array_of_objects(&mut self, field: &str) -> Option<Vec<Value>> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        self.wrong(&format!("{field}[{i}]"), "an object", item);
                    }
                }
                Some(items.clone())
            }
            Some(other) => {
                self.wrong(field, "an array of objects", other);
                None
            }
        }
    }

    /// Rejects members other than `known` (catches misspelt field names).
    pub(crate) fn deny_unknown(&mut self, known: &[&str]) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                self.errors.push(FieldError::new(
                    key.clone(),
                    format!("unknown field; expected one of: {}", known.join(", ")),
                ));
            }
        }
    }

    /// The collected errors as one 422, or Ok.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// A canonical text of a JSON value (object keys sorted), for request hashes.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
