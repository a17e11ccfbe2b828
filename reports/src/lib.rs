//! flowgate-reports: the run-result model and its renderers.
//!
//! One run produces one [`RunReport`]; the renderers turn it into the Markdown sign-off
//! report, JUnit XML, JSON and a self-contained HTML page. [`gating`] applies the
//! `--fail-on` policy and the waivers file, [`diff`] compares two stored runs, and
//! [`redact`] is the last line of defence that keeps secrets out of every output.

pub mod diff;
mod error;
pub mod gating;
pub mod histogram;
pub mod model;
mod output;
mod redact;
pub mod render;
mod verdict;

pub use diff::{
    comparability, diff, diff_with_floor, render_diff_text, RunDiff, DEFAULT_NOISE_FLOOR_MS,
};
pub use error::ReportError;
pub use gating::{
    apply_waivers, load_waivers, parse_fail_on, parse_waivers, waive, waiver_for, waivers_schema,
    WaiverEntry, Waivers,
};
pub use histogram::{LatencyHistogram, MAX_RELATIVE_ERROR};
pub use model::*;
pub use output::{write_all, write_all_redacted, write_one_redacted, OutputFormat};
pub use redact::redact;
pub use render::html::render_html;
pub use render::json::{from_json, render_json};
pub use render::junit::render_junit;
pub use render::markdown::render_markdown;
pub use render::matrix::{render_matrix_html, render_matrix_markdown, MatrixColumn};
pub use render::status_words;
