//! What the binary knows about itself, stamped into every report it writes.

use flowgate_reports::RunReport;

/// The commit this binary was built from (see `build.rs`).
pub(crate) const COMMIT: Option<&str> = option_env!("FLOWGATE_COMMIT");

/// Records the tool's commit in a report.
pub(crate) fn stamp(report: &mut RunReport) {
    report.tool.commit = COMMIT.map(str::to_string);
}
