//! The gating policy (`--fail-on`) and the waivers file.
//!
//! A waivers file lists known failures accepted for now:
//!
//! ```yaml
//! waivers:
//!   - scenario: tenant_isolation/cross_tenant_matrix   # id or name
//!     owner: alice@example.com
//!     reason: fix scheduled in JIRA-123
//!     expires: 2026-12-31                              # last day it applies
//! ```
//!
//! A failed scenario covered by a current waiver becomes `Waived` (not gating); once the
//! waiver has expired the scenario stays `Failed` and the report says "waiver expired".

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::ReportError;
use crate::model::{GatingPolicy, Outcome, RunReport, ScenarioResult, Severity, Waiver};

/// Maps `--fail-on critical|high|moderate|low|any` to a policy: failures of that severity
/// or worse fail the run; `any` means every failure does.
pub fn parse_fail_on(value: &str) -> Result<GatingPolicy, ReportError> {
    let fail_on = match value.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" => Some(Severity::High),
        "moderate" => Some(Severity::Moderate),
        "low" => Some(Severity::Low),
        "any" => None,
        _ => return Err(ReportError::InvalidFailOn(value.to_string())),
    };
    Ok(GatingPolicy { fail_on })
}

/// A parsed waivers file.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waivers {
    pub waivers: Vec<WaiverEntry>,
}

/// One waiver as written in the file.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiverEntry {
    /// Scenario id (`tenant_isolation/cross_tenant_matrix`) or name.
    pub scenario: String,
    pub owner: String,
    pub reason: String,
    /// Last day the waiver applies (inclusive).
    pub expires: NaiveDate,
}

/// Reads and checks a waivers file; errors name the file, line and column.
pub fn load_waivers(path: &Path) -> Result<Waivers, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_waivers(&text, &path.display().to_string())
}

/// Parses waivers from text; `file` names the source in error messages.
pub fn parse_waivers(text: &str, file: &str) -> Result<Waivers, ReportError> {
    let waivers: Waivers = serde_yaml_ng::from_str(text).map_err(|e| {
        let loc = e.location();
        ReportError::Waivers {
            file: file.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: strip_location(&e.to_string()),
        }
    })?;
    for (i, w) in waivers.waivers.iter().enumerate() {
        for (field, value) in [
            ("scenario", &w.scenario),
            ("owner", &w.owner),
            ("reason", &w.reason),
        ] {
            if value.trim().is_empty() {
                return Err(ReportError::Waivers {
                    file: file.to_string(),
                    line: None,
                    column: None,
                    message: format!("waivers[{i}]: `{field}` must not be empty"),
                });
            }
        }
    }
    Ok(waivers)
}

/// serde_yaml_ng appends " at line L column C" to its messages; the location is reported
/// separately, so it is cut from the message.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The waiver of `waivers` that covers a scenario (by id or name), if any.
pub fn waiver_for<'a>(waivers: &'a Waivers, id: &str, name: &str) -> Option<&'a WaiverEntry> {
    waivers
        .waivers
        .iter()
        .find(|w| w.scenario.trim() == id || w.scenario.trim() == name)
}

/// Applies one waiver to one scenario result, as of `today`: a failure under a current
/// waiver becomes `Waived`; under an expired one it stays `Failed`, the waiver attached
/// with `expired: true`. Other outcomes are left alone. The runner calls this as each
/// scenario finishes (so the console prints WAIVED, not FAIL); [`apply_waivers`] calls
/// it over a finished run.
pub fn waive(result: &mut ScenarioResult, entry: &WaiverEntry, today: NaiveDate) {
    if !matches!(result.outcome, Outcome::Failed | Outcome::Waived) {
        return;
    }
    let expired = today > entry.expires;
    result.outcome = if expired {
        Outcome::Failed
    } else {
        Outcome::Waived
    };
    result.waiver = Some(Waiver {
        scenario: entry.scenario.clone(),
        owner: entry.owner.clone(),
        reason: entry.reason.clone(),
        expires: entry.expires,
        expired,
    });
}

/// Applies waivers to a run, as of `today` (see [`waive`]).
///
/// Returns warnings: waivers that match no scenario, waivers of scenarios that did not
/// fail (no longer needed), expired waivers, waivers that name a load phase (not
/// waivable).
pub fn apply_waivers(report: &mut RunReport, waivers: &Waivers, today: NaiveDate) -> Vec<String> {
    let mut warnings = Vec::new();
    for entry in &waivers.waivers {
        let key = entry.scenario.trim();
        let mut matched = false;
        for s in report
            .scenarios
            .iter_mut()
            .filter(|s| s.id == key || s.name == key)
        {
            matched = true;
            waive(s, entry, today);
            match s.outcome {
                Outcome::Failed if s.waiver.as_ref().is_some_and(|w| w.expired) => {
                    warnings.push(format!(
                        "waiver for `{}` (owner {}) expired on {}: the failure counts again",
                        s.id, entry.owner, entry.expires
                    ))
                }
                Outcome::Passed => warnings.push(format!(
                    "waiver for `{}` (owner {}) is no longer needed: the scenario passed",
                    s.id, entry.owner
                )),
                Outcome::Error => warnings.push(format!(
                    "waiver for `{}` not applied: the scenario hit an infrastructure error, which a waiver does not cover",
                    s.id
                )),
                _ => {}
            }
        }
        if !matched {
            if report.load.iter().any(|l| l.id == key || l.name == key) {
                warnings.push(format!(
                    "waiver for `{key}` not applied: it names a load phase; only scenarios can be waived"
                ));
            } else {
                warnings.push(format!(
                    "waiver for `{key}` (owner {}) matches no scenario of this run",
                    entry.owner
                ));
            }
        }
    }
    warnings
}

/// The JSON Schema of waivers files (`flowgate schema waivers`), from the same types the
/// parser uses.
pub fn waivers_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Waivers)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_values() {
        assert_eq!(
            parse_fail_on("any").ok(),
            Some(GatingPolicy { fail_on: None })
        );
        assert_eq!(
            parse_fail_on("HIGH").ok(),
            Some(GatingPolicy {
                fail_on: Some(Severity::High)
            })
        );
        assert!(matches!(
            parse_fail_on("severe"),
            Err(ReportError::InvalidFailOn(_))
        ));
    }

    #[test]
    fn unknown_key_is_rejected_with_line_and_column() {
        let text = "waivers:\n  - scenario: a\n    owner: o\n    reason: r\n    expires: 2026-12-31\n    approved_by: boss\n";
        let err = parse_waivers(text, "waivers.yaml").err();
        let Some(ReportError::Waivers {
            file,
            line,
            column,
            message,
        }) = err
        else {
            panic!("expected a waivers error, got {err:?}");
        };
        assert_eq!(file, "waivers.yaml");
        assert_eq!(line, Some(6));
        assert_eq!(column, Some(5));
        assert!(message.contains("approved_by"), "{message}");
    }

    #[test]
    fn bad_date_is_located() {
        let text =
            "waivers:\n  - scenario: a\n    owner: o\n    reason: r\n    expires: 31/12/2026\n";
        let err = parse_waivers(text, "w.yaml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:5:"), "{err}");
    }

    #[test]
    fn empty_owner_is_rejected() {
        let text =
            "waivers:\n  - scenario: a\n    owner: ''\n    reason: r\n    expires: 2026-12-31\n";
        let err = parse_waivers(text, "w.yaml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("owner"), "{err}");
    }
}
