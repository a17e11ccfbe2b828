//! What a suite says: the scenario, library and profile file model (serde + schemars,
//! so the parser and `flowgate schema` cannot disagree), positions in YAML files, the
//! errors that name file, line and column, and the threshold parser.
//!
//! Nothing here sends a request; [`crate::run`] executes what this module describes.

pub(crate) mod errors;
pub(crate) mod locate;
pub mod model;
mod target_profile;
pub mod threshold;
/// `100ms` or `100ms..500ms` → (min, max).
pub fn parse_think_time(s: &str) -> Option<(std::time::Duration, std::time::Duration)> {
    match s.split_once("..") {
        Some((a, b)) => {
            let a = humantime::parse_duration(a.trim()).ok()?;
            let b = humantime::parse_duration(b.trim()).ok()?;
            (a <= b).then_some((a, b))
        }
        None => {
            let d = humantime::parse_duration(s.trim()).ok()?;
            Some((d, d))
        }
    }
}
