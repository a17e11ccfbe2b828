//! flowgate-harness: the scenario and profile model, the parser with file:line:column
//! errors, variable interpolation, assertions and the runner.
//!
//! Typical use (what `flowgate run` does):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use flowgate_harness::{run_suite, Profile, ProcessEnv, RunOptions, Suite};
//! let suite = Suite::load(&["scenarios".into()])?;
//! let profile = Profile::load("scenarios/reference.target.yaml".as_ref(), &ProcessEnv)?;
//! suite.validate_against(&profile)?;
//! let report = run_suite(&suite, &profile, RunOptions { jobs: 4, ..Default::default() }).await;
//! std::process::exit(report.exit_code());
//! # }
//! ```
//!
//! The load crate executes harness steps inside goose transactions with
//! [`prepare_request`], [`check_expect`], [`apply_captures`] and [`PollTracker`].

mod assert;
pub mod console;
mod error;
mod http;
mod interp;
mod locate;
pub mod model;
mod profile;
mod runner;
mod suite;
mod threshold;

pub use assert::{
    check_assertion, check_expect, condition_holds, is_singular_path, query_json, Mismatch,
    ResponseData,
};
pub use error::{LoadError, LoadErrors};
pub use http::{build_client, excerpt, prepare_request, send, PreparedRequest, TransportError};
pub use interp::{value_text, EnvMap, EnvSource, InterpError, Layered, Masker, ProcessEnv, Vars};
pub use locate::Pos;
pub use model::{library_schema, profile_schema, scenario_schema};
pub use profile::Profile;
pub use runner::{
    apply_captures, mask_scenario, probe_target, run_suite, LoadContext, LoadRunner, PollTracker,
    Progress, RunOptions, EXCERPT_BYTES,
};
pub use suite::{check_scenario_text, parse_think_time, LoadedScenario, Suite};
pub use threshold::{parse_threshold, Comparison, Metric, Threshold};
