//! Request bodies: content type, size, JSON syntax, then field-by-field validation that
//! names each bad field. Bodies are parsed into `serde_json::Value` and checked by hand so
//! that every problem is reported at once, with its field path.

use crate::api::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};
use std::fmt::Write as _;

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
    if let Some(at) = find_nul(&value) {
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

/// One step of a path into a body: a member's name or an array index.
enum Step<'a> {
    Member(&'a str),
    Index(usize),
}

/// The path (`configuration.a[2]`, or `(body)`) of the first member name or string that
/// contains U+0000. Valid JSON, but no database text type stores it (PostgreSQL refuses
/// it in `text` and `jsonb`), so it is refused as input rather than failing as a 500.
/// The path is written out only when there is one: a body without a NUL (nearly all)
/// costs a walk and no text.
fn find_nul(v: &Value) -> Option<String> {
    let mut path = Vec::new();
    nul_in(v, &mut path).then(|| path_text(&path))
}

/// Whether `v` holds U+0000; if so, `path` ends with the steps to it.
fn nul_in<'a>(v: &'a Value, path: &mut Vec<Step<'a>>) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .any(|(i, x)| within(path, Step::Index(i), |path| nul_in(x, path))),
        Value::Object(map) => map.iter().any(|(k, x)| {
            within(path, Step::Member(k), |path| {
                k.contains('\0') || nul_in(x, path)
            })
        }),
        _ => false,
    }
}

/// `found` asked one step further down `path`; the step stays only if it found.
fn within<'a>(
    path: &mut Vec<Step<'a>>,
    step: Step<'a>,
    found: impl FnOnce(&mut Vec<Step<'a>>) -> bool,
) -> bool {
    path.push(step);
    let hit = found(path);
    if !hit {
        path.pop();
    }
    hit
}

fn path_text(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Member(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    if out.is_empty() {
        "(body)".to_string()
    } else {
        out
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

/// A canonical text of a JSON value (object keys sorted, no spaces), for request hashes.
/// Computed only for creates that carry an `Idempotency-Key`.
pub(crate) fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // A JSON string's text, as `Value`'s Display writes it.
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(x, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The canonical text is what stored request hashes were made from: it must not change
    /// between releases, or a retried create would be refused as a different request.
    #[test]
    fn canonical_text_is_stable() {
        let body = json!({
            "z": [3, {"b": null, "a": "x\"y\\\u{1}é"}],
            "a": {"k2": 1.5, "k10": true, "": []},
            "m": "",
        });
        assert_eq!(
            canonical(&body),
            r#"{"a":{"":[],"k10":true,"k2":1.5},"m":"","z":[3,{"a":"x\"y\\\u0001é","b":null}]}"#
        );
    }

    /// Any JSON value: scalars (strings with escapes and non-ASCII text among them),
    /// arrays and objects, nested.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // Quarters: fractions that serde_json reads back exactly (without its
            // float_roundtrip feature, some longer ones come back one bit off).
            (-4000i32..4000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
            "[a-z\"\\\u{1}é ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z\"é]{0,4}", inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// The value with every object's members in reverse order.
    fn reversed(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .rev()
                    .map(|(k, x)| (k.clone(), reversed(x)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
            other => other.clone(),
        }
    }

    proptest! {
        /// The canonical text is JSON that reads back as the same value, and the order in
        /// which a client wrote the members does not change it.
        #[test]
        fn canonical_text_is_the_value_in_any_member_order(v in any_json()) {
            let text = canonical(&v);
            let back: Value = serde_json::from_str(&text).expect("canonical text is JSON");
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(canonical(&reversed(&v)), text);
        }
    }

    #[test]
    fn a_nul_is_named_by_its_path() {
        let at = |v: Value| find_nul(&v);
        assert_eq!(at(json!({"ok": [1, "two"], "k": {"x": null}})), None);
        assert_eq!(at(json!("a\u{0}")), Some("(body)".into()));
        assert_eq!(
            at(json!({"a": [1, {"b": "x\u{0}"}]})),
            Some("a[1].b".into())
        );
        assert_eq!(at(json!({"ok": 1, "k\u{0}": 1})), Some("k\u{0}".into()));
        assert_eq!(at(json!({"": "\u{0}"})), Some("(body)".into()));
    }

    #[test]
    fn key_order_does_not_change_the_canonical_text() {
        let one: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2]}, "a": 0}"#).expect("json");
        let two: Value =
            serde_json::from_str(r#"{"a": 0, "b": {"x": [2], "y": 1}}"#).expect("json");
        assert_eq!(canonical(&one), canonical(&two));
        assert_ne!(
            canonical(&one),
            canonical(&json!({"a": 0, "b": {"x": [2], "y": 2}}))
        );
    }
}
