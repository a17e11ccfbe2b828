//! JSON: the run-result model itself, the stable machine format.

use crate::error::ReportError;
use crate::model::{RunReport, SCHEMA_VERSION};

/// The report as pretty-printed JSON, with a trailing newline.
pub fn render_json(report: &RunReport) -> String {
    // Serialising plain data (strings, numbers, dates) into a String cannot fail; a
    // non-finite float becomes `null` in serde_json rather than an error.
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise run result: {e}\"}}"));
    text.push('\n');
    text
}

/// Reads a stored run result, refusing one written with another `schema_version`
/// (checked before the shape, so an old file gets the version message, not a field error).
pub fn from_json(text: &str) -> Result<RunReport, ReportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReportError::InvalidJson(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(ReportError::InvalidJson(
            "expected a JSON object at the top level".into(),
        ));
    };
    match obj.get("schema_version") {
        None => {
            return Err(ReportError::InvalidJson(
                "missing field `schema_version`".into(),
            ))
        }
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(v) => {
            return Err(ReportError::SchemaVersion {
                found: v.to_string(),
                supported: SCHEMA_VERSION,
            })
        }
    }
    serde_json::from_value(value).map_err(|e| ReportError::InvalidJson(e.to_string()))
}
