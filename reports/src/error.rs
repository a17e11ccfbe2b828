//! The one error type of the reports crate.

use std::path::PathBuf;

/// Everything that can go wrong reading, gating, rendering or writing a run result.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not a run result (not JSON, or not the model's shape).
    #[error("not a flowgate run result: {0}")]
    InvalidJson(String),
    /// The run result was written by an incompatible flowgate.
    #[error(
        "run result has schema_version {found}, this flowgate reads schema_version {supported}"
    )]
    SchemaVersion { found: String, supported: u32 },
    /// A waiver file that cannot be used; `line`/`column` are 1-based when known.
    #[error("{}", waiver_message(.file, .line, .column, .message))]
    Waivers {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("invalid --fail-on value `{0}`: expected one of critical, high, moderate, low, any")]
    InvalidFailOn(String),
    #[error("cannot write JUnit XML: {0}")]
    Junit(String),
    #[error("cannot redact secrets from the run result: {0}")]
    Redaction(String),
}

fn waiver_message(
    file: &str,
    line: &Option<usize>,
    column: &Option<usize>,
    message: &str,
) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}: {message}"),
        (Some(l), None) => format!("{file}:{l}: {message}"),
        _ => format!("{file}: {message}"),
    }
}
