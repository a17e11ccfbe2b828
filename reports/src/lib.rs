//! flowgate-reports: the run-result model and its renderers.
//!
//! One run produces one [`RunReport`]; the renderers turn it into the Markdown sign-off
//! report, JUnit XML, JSON and a self-contained HTML page.

pub mod model;

pub use model::*;
