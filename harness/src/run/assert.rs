//! Assertions: JSONPath lookups, operators, and `expect` blocks evaluated against a
//! response. Pure functions, usable by the load crate inside goose transactions.

use crate::interp::{type_name, value_text, Vars};
use crate::spec::model::{Expect, JsonType, Operators, StatusSpec};
use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;
use std::sync::OnceLock;
use std::time::Duration;

/// A response as the assertions see it (no reqwest types).
#[derive(Debug, Clone)]
pub struct ResponseData {
    pub status: u16,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub duration: Duration,
    /// The URL that answered, when redirects were followed to it.
    pub final_url: Option<String>,
}

impl ResponseData {
    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// All values of a header joined with `, `; `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            None
        } else {
            Some(values.join(", "))
        }
    }
}

/// Why an assertion did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub message: String,
    pub expected: String,
    pub actual: String,
}

fn singular_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"^\$(\.[A-Za-z_][A-Za-z0-9_\-]*|\[\s*(-?\d+|'[^']*'|"[^"]*")\s*\])*$"#)
            .unwrap_or_else(|_| unreachable!())
    })
}

/// True when a JSONPath can select at most one node (no wildcard, filter, slice, `..`).
pub fn is_singular_path(path: &str) -> bool {
    singular_re().is_match(path.trim())
}

/// Checks a JSONPath's syntax.
pub fn parse_json_path(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path.trim()).map_err(|e| format!("invalid JSONPath `{path}`: {e}"))
}

/// Looks a JSONPath up: a singular path gives its node or `None` (absent); any other path
/// gives the array of its matches (possibly empty).
pub fn query_json(path: &str, doc: &Value) -> Result<Option<Value>, String> {
    let jp = parse_json_path(path)?;
    let nodes = jp.query(doc).all();
    if is_singular_path(path) {
        Ok(nodes.first().map(|v| (*v).clone()))
    } else {
        Ok(Some(Value::Array(nodes.into_iter().cloned().collect())))
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "absent".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 300 {
                let mut end = 300;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}…", &s[..end])
            } else {
                s
            }
        }
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::String(s) => s.contains(&value_text(needle)),
        Value::Array(items) => items.iter().any(|i| values_equal(i, needle)),
        Value::Object(map) => map.contains_key(&value_text(needle)),
        other => values_equal(other, needle),
    }
}

fn length(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => Some(s.chars().count() as u64),
        Value::Array(a) => Some(a.len() as u64),
        Value::Object(o) => Some(o.len() as u64),
        _ => None,
    }
}

fn has_type(v: &Value, t: JsonType) -> bool {
    match t {
        JsonType::String => v.is_string(),
        JsonType::Number => v.is_number(),
        JsonType::Integer => {
            v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        JsonType::Boolean => v.is_boolean(),
        JsonType::Array => v.is_array(),
        JsonType::Object => v.is_object(),
        JsonType::Null => v.is_null(),
    }
}

fn mismatch(subject: &str, op: &str, expected: String, actual: Option<&Value>) -> Mismatch {
    let actual = show(actual);
    Mismatch {
        message: format!("{subject}: expected {op} {expected}, got {actual}"),
        expected: format!("{op} {expected}"),
        actual,
    }
}

/// Parses an assertion value: scalar → equals, list → one_of, object → operators.
pub fn operators_of(spec: &Value) -> Result<Operators, String> {
    match spec {
        Value::Object(map) => {
            // An operator with a null value would deserialize to "not set" and the
            // assertion would silently hold: reject it, and an empty object, instead.
            if map.is_empty() {
                return Err(
                    "invalid assertion: an operator object needs at least one operator".into(),
                );
            }
            if let Some((key, _)) = map.iter().find(|(_, v)| v.is_null()) {
                return Err(format!(
                    "invalid assertion: `{key}: null` would check nothing; to assert a JSON null write `type: \"null\"`"
                ));
            }
            serde_json::from_value::<Operators>(spec.clone())
                .map_err(|e| format!("invalid assertion: {e}"))
        }
        Value::Array(items) => Ok(Operators {
            one_of: Some(items.clone()),
            ..Operators::default()
        }),
        other => Ok(Operators {
            equals: Some(other.clone()),
            ..Operators::default()
        }),
    }
}

/// Checks one (already interpolated) assertion against a value (`None` = absent).
pub fn check_assertion(
    subject: &str,
    spec: &Value,
    actual: Option<&Value>,
) -> Result<(), Mismatch> {
    let ops = operators_of(spec).map_err(|e| Mismatch {
        message: format!("{subject}: {e}"),
        expected: spec.to_string(),
        actual: show(actual),
    })?;
    check_operators(subject, &ops, actual)
}

/// Checks a set of operators; all must hold.
pub fn check_operators(
    subject: &str,
    ops: &Operators,
    actual: Option<&Value>,
) -> Result<(), Mismatch> {
    if let Some(want) = ops.exists {
        if want != actual.is_some() {
            return Err(mismatch(subject, "exists", want.to_string(), actual));
        }
    }
    let only_exists = ops.exists.is_some() && !has_positive_check(ops) && !has_negative_check(ops);
    if only_exists {
        return Ok(());
    }
    let Some(v) = actual else {
        // Absent: only negative checks can hold.
        let negative_only = has_negative_check(ops) && !has_positive_check(ops);
        if negative_only {
            return Ok(());
        }
        return Err(Mismatch {
            message: format!("{subject}: expected a value, got absent"),
            expected: "present".into(),
            actual: "absent".into(),
        });
    };
    if let Some(e) = &ops.equals {
        if !values_equal(v, e) {
            return Err(mismatch(subject, "equals", e.to_string(), Some(v)));
        }
    }
    if let Some(e) = &ops.not_equals {
        if values_equal(v, e) {
            return Err(mismatch(subject, "not_equals", e.to_string(), Some(v)));
        }
    }
    if let Some(list) = &ops.one_of {
        if !list.iter().any(|e| values_equal(v, e)) {
            return Err(mismatch(
                subject,
                "one_of",
                Value::Array(list.clone()).to_string(),
                Some(v),
            ));
        }
    }
    if let Some(list) = &ops.not_one_of {
        if list.iter().any(|e| values_equal(v, e)) {
            return Err(mismatch(
                subject,
                "not_one_of",
                Value::Array(list.clone()).to_string(),
                Some(v),
            ));
        }
    }
    if let Some(needle) = &ops.contains {
        if !contains(v, needle) {
            return Err(mismatch(subject, "contains", needle.to_string(), Some(v)));
        }
    }
    if let Some(needles) = &ops.not_contains {
        let list = match needles {
            Value::Array(items) if !v.is_array() => items.clone(),
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for n in &list {
            if contains(v, n) {
                return Err(mismatch(subject, "not_contains", n.to_string(), Some(v)));
            }
        }
    }
    if let Some(pattern) = &ops.matches {
        let re = Regex::new(pattern).map_err(|e| Mismatch {
            message: format!("{subject}: invalid regex `{pattern}`: {e}"),
            expected: format!("matches {pattern}"),
            actual: show(Some(v)),
        })?;
        if !re.is_match(&value_text(v)) {
            return Err(mismatch(
                subject,
                "matches",
                format!("/{pattern}/"),
                Some(v),
            ));
        }
    }
    if let Some(t) = ops.json_type {
        if !has_type(v, t) {
            let name = format!("{t:?}").to_ascii_lowercase();
            return Err(Mismatch {
                message: format!(
                    "{subject}: expected type {name}, got {} {}",
                    type_name(v),
                    show(Some(v))
                ),
                expected: format!("type {name}"),
                actual: show(Some(v)),
            });
        }
    }
    for (op, bound) in [
        ("length", ops.length),
        ("min_length", ops.min_length),
        ("max_length", ops.max_length),
    ] {
        let Some(bound) = bound else { continue };
        let Some(len) = length(v) else {
            return Err(mismatch(subject, op, bound.to_string(), Some(v)));
        };
        let ok = match op {
            "length" => len == bound,
            "min_length" => len >= bound,
            _ => len <= bound,
        };
        if !ok {
            return Err(Mismatch {
                message: format!("{subject}: expected {op} {bound}, got length {len}"),
                expected: format!("{op} {bound}"),
                actual: format!("length {len}"),
            });
        }
    }
    for (op, bound) in [
        ("gt", &ops.gt),
        ("gte", &ops.gte),
        ("lt", &ops.lt),
        ("lte", &ops.lte),
    ] {
        let Some(bound) = bound else { continue };
        let (Some(x), Some(b)) = (num(v), num(bound)) else {
            return Err(mismatch(subject, op, bound.to_string(), Some(v)));
        };
        let ok = match op {
            "gt" => x > b,
            "gte" => x >= b,
            "lt" => x < b,
            _ => x <= b,
        };
        if !ok {
            return Err(mismatch(subject, op, bound.to_string(), Some(v)));
        }
    }
    if let Some(wanted) = &ops.in_order {
        if !holds_in_order(v, wanted) {
            return Err(mismatch(
                subject,
                "in_order",
                Value::Array(wanted.clone()).to_string(),
                Some(v),
            ));
        }
    }
    if let Some(want) = ops.increasing {
        if want != is_increasing(v) {
            return Err(mismatch(subject, "increasing", want.to_string(), Some(v)));
        }
    }
    if let Some(want) = ops.not_empty {
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if want == empty {
            return Err(mismatch(subject, "not_empty", want.to_string(), Some(v)));
        }
    }
    Ok(())
}

/// `wanted` is a subsequence of the array `v`.
fn holds_in_order(v: &Value, wanted: &[Value]) -> bool {
    let Value::Array(items) = v else { return false };
    let mut rest = items.iter();
    wanted
        .iter()
        .all(|w| rest.by_ref().any(|item| values_equal(item, w)))
}

/// An array of numbers, or of strings, each strictly greater than the one before.
fn is_increasing(v: &Value) -> bool {
    let Value::Array(items) = v else { return false };
    items.windows(2).all(|pair| match (&pair[0], &pair[1]) {
        (Value::String(a), Value::String(b)) => a < b,
        (a, b) => matches!((num(a), num(b)), (Some(x), Some(y)) if x < y),
    })
}

/// The status codes a `status` spec allows (a template is interpolated first).
pub fn status_codes(spec: &StatusSpec, vars: &Vars) -> Result<Vec<u16>, Mismatch> {
    match spec {
        StatusSpec::One(c) => Ok(vec![*c]),
        StatusSpec::Any(v) => Ok(v.clone()),
        StatusSpec::Template(t) => {
            let bad = |why: String| Mismatch {
                message: format!("status `{t}`: {why}"),
                expected: "a status code or a list of status codes".into(),
                actual: why.clone(),
            };
            let v = vars
                .interpolate_value(&Value::String(t.clone()))
                .map_err(|e| bad(e.0))?;
            let as_code = |v: &Value| -> Option<u16> {
                match v {
                    Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
            };
            match &v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| as_code(i).ok_or_else(|| bad(format!("`{i}` is not a status code"))))
                    .collect(),
                other => as_code(other)
                    .map(|c| vec![c])
                    .ok_or_else(|| bad(format!("`{other}` is not a status code"))),
            }
        }
    }
}

/// Evaluates an `expect` block against a response. Strings in the block are interpolated
/// with `vars` first. `max_duration` is checked too. The first mismatch is returned.
pub fn check_expect(expect: &Expect, resp: &ResponseData, vars: &Vars) -> Result<(), Mismatch> {
    let interp = |v: &Value| {
        vars.interpolate_value(v).map_err(|e| Mismatch {
            message: e.0.clone(),
            expected: v.to_string(),
            actual: "not evaluated".into(),
        })
    };
    if let Some(status) = &expect.status {
        let codes = status_codes(status, vars)?;
        if !codes.contains(&resp.status) {
            let want = if codes.len() == 1 {
                codes[0].to_string()
            } else {
                format!("one of {codes:?}")
            };
            // A redirect's answer is elsewhere: say where, or the failure hides it.
            let location = match resp.header("location") {
                Some(l) if (300..400).contains(&resp.status) => format!(" (Location: {l})"),
                None if (300..400).contains(&resp.status) => " (no Location header)".to_string(),
                _ => String::new(),
            };
            return Err(Mismatch {
                message: format!("expected status {want}, got {}{location}", resp.status),
                expected: format!("status {want}"),
                actual: format!("status {}{location}", resp.status),
            });
        }
    }
    for (name, spec) in &expect.headers {
        let actual = resp.header(name).map(Value::String);
        check_assertion(&format!("header `{name}`"), &interp(spec)?, actual.as_ref())?;
    }
    if !expect.json.is_empty() || expect.schema.is_some() {
        let doc = resp.json();
        for (path, spec) in &expect.json {
            let spec = interp(spec)?;
            // JSONPaths may hold `{{ var }}` too (e.g. a filter on a captured id).
            let path = &vars.interpolate(path).map_err(|e| Mismatch {
                message: e.0.clone(),
                expected: spec.to_string(),
                actual: "not evaluated".into(),
            })?;
            let actual = match &doc {
                Some(d) => query_json(path, d).map_err(|e| Mismatch {
                    message: e,
                    expected: spec.to_string(),
                    actual: "not evaluated".into(),
                })?,
                None => {
                    return Err(Mismatch {
                        message: format!("`{path}`: the response body is not JSON"),
                        expected: format!("JSON body with `{path}`"),
                        actual: "non-JSON body".into(),
                    })
                }
            };
            check_assertion(&format!("`{path}`"), &spec, actual.as_ref())?;
        }
        if let Some(schema) = &expect.schema {
            let Some(doc) = &doc else {
                return Err(Mismatch {
                    message: "the response body is not JSON (a JSON Schema was expected to hold)"
                        .into(),
                    expected: "a JSON body matching the schema".into(),
                    actual: "non-JSON body".into(),
                });
            };
            let validator = jsonschema::validator_for(schema).map_err(|e| Mismatch {
                message: format!("invalid JSON Schema: {e}"),
                expected: "a valid schema".into(),
                actual: "not evaluated".into(),
            })?;
            let errors: Vec<String> = validator
                .iter_errors(doc)
                .take(5)
                .map(|e| format!("{} at `{}`", e, e.instance_path))
                .collect();
            if !errors.is_empty() {
                return Err(Mismatch {
                    message: format!(
                        "response does not match the JSON Schema: {}",
                        errors.join("; ")
                    ),
                    expected: "matches the JSON Schema".into(),
                    actual: errors.join("; "),
                });
            }
        }
    }
    if let Some(spec) = &expect.body {
        let text = Value::String(resp.text());
        check_assertion("body", &interp(spec)?, Some(&text))?;
    }
    if let Some(max) = expect.max_duration {
        if resp.duration > max.0 {
            return Err(Mismatch {
                message: format!(
                    "expected a response within {}, took {} ms",
                    humantime::format_duration(max.0),
                    resp.duration.as_millis()
                ),
                expected: format!("< {}", humantime::format_duration(max.0)),
                actual: format!("{} ms", resp.duration.as_millis()),
            });
        }
    }
    Ok(())
}

/// Whether a condition block (`until`, `fail_fast`) holds for a response.
pub fn condition_holds(cond: &Expect, resp: &ResponseData, vars: &Vars) -> bool {
    check_expect(cond, resp, vars).is_ok()
}

/// An operator that needs a value to hold (an absent value fails it).
fn has_positive_check(ops: &Operators) -> bool {
    ops.equals.is_some()
        || ops.one_of.is_some()
        || ops.contains.is_some()
        || ops.matches.is_some()
        || ops.json_type.is_some()
        || ops.length.is_some()
        || ops.min_length.is_some()
        || ops.max_length.is_some()
        || ops.gt.is_some()
        || ops.gte.is_some()
        || ops.lt.is_some()
        || ops.lte.is_some()
        || ops.not_empty.is_some()
        || ops.in_order.is_some()
        || ops.increasing.is_some()
}

/// An operator that an absent value satisfies.
fn has_negative_check(ops: &Operators) -> bool {
    ops.not_equals.is_some() || ops.not_one_of.is_some() || ops.not_contains.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operators() {
        let v = json!({"a": "hello", "n": 3, "items": [{"id": 1}, {"id": 2}]});
        let q = |p: &str| query_json(p, &v).unwrap();
        assert!(check_assertion("a", &json!("hello"), q("$.a").as_ref()).is_ok());
        assert!(check_assertion("a", &json!("nope"), q("$.a").as_ref()).is_err());
        assert!(check_assertion("n", &json!({"gt": 2, "lte": 3}), q("$.n").as_ref()).is_ok());
        assert!(
            check_assertion("ids", &json!({"contains": 2}), q("$.items[*].id").as_ref()).is_ok()
        );
        assert!(check_assertion(
            "ids",
            &json!({"not_contains": [3, 4]}),
            q("$.items[*].id").as_ref()
        )
        .is_ok());
        assert!(check_assertion("x", &json!({"exists": false}), q("$.x").as_ref()).is_ok());
        assert!(check_assertion("x", &json!({"not_equals": 1}), q("$.x").as_ref()).is_ok());
        assert!(check_assertion(
            "none",
            &json!({"length": 0}),
            q("$.items[?@.id > 5]").as_ref()
        )
        .is_ok());
    }

    #[test]
    fn order_operators() {
        let v =
            json!({"kinds": ["created", "started", "x", "done"], "seq": [1, 2, 5], "flat": [1, 1]});
        let q = |p: &str| query_json(p, &v).unwrap();
        let holds =
            |spec: Value, path: &str| check_assertion(path, &spec, q(path).as_ref()).is_ok();
        assert!(holds(
            json!({"in_order": ["started", "done"]}),
            "$.kinds[*]"
        ));
        assert!(holds(json!({"in_order": []}), "$.kinds[*]"));
        assert!(!holds(
            json!({"in_order": ["done", "started"]}),
            "$.kinds[*]"
        ));
        assert!(!holds(
            json!({"in_order": ["started", "started"]}),
            "$.kinds[*]"
        ));
        assert!(holds(json!({"increasing": true}), "$.seq[*]"));
        assert!(!holds(json!({"increasing": true}), "$.flat[*]"));
        assert!(holds(json!({"increasing": false}), "$.flat[*]"));
    }
}
