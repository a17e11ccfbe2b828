//! The last line of defence against leaked secrets.
//!
//! The harness masks `${secret:...}` values before results reach this crate; `redact`
//! makes sure of it by walking every text value of the report (through its JSON form, so
//! fields added to the model later are covered too) and replacing each secret, and its
//! percent-encoded form, with `***`.

use serde_json::Value;

use crate::error::ReportError;
use crate::model::RunReport;

/// What a secret is replaced with.
const MASK: &str = "***";

/// Fields whose values are enum names, dates or versions: never free text, and replacing
/// inside them would make the report unreadable.
const STRUCTURAL_FIELDS: &[&str] = &[
    "outcome",
    "severity",
    "fail_on",
    "started_at",
    "finished_at",
    "expires",
];

/// Replaces every occurrence of every (non-empty) secret in every text field with `***`.
pub fn redact(report: &mut RunReport, secrets: &[String]) -> Result<(), ReportError> {
    let mut needles: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        needles.push(s.clone());
        let encoded = percent_encode(s);
        if encoded != *s {
            needles.push(encoded);
        }
    }
    if needles.is_empty() {
        return Ok(());
    }
    // Longest first, so a secret that contains another is masked whole.
    needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    needles.dedup();
    let mut value =
        serde_json::to_value(&*report).map_err(|e| ReportError::Redaction(e.to_string()))?;
    walk(&mut value, None, &needles);
    *report = serde_json::from_value(value).map_err(|e| ReportError::Redaction(e.to_string()))?;
    Ok(())
}

fn walk(value: &mut Value, key: Option<&str>, needles: &[String]) {
    match value {
        Value::String(s) => {
            if key.is_some_and(|k| STRUCTURAL_FIELDS.contains(&k)) {
                return;
            }
            for n in needles {
                if s.contains(n.as_str()) {
                    *s = s.replace(n.as_str(), MASK);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, key, needles);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                walk(v, Some(k.as_str()), needles);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters: the form a secret
/// takes inside a URL query.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_matches_urls() {
        assert_eq!(percent_encode("a b/c+d"), "a%20b%2Fc%2Bd");
        assert_eq!(percent_encode("plain-key_1"), "plain-key_1");
    }
}
