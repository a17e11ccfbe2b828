//! flowgate-harness: the scenario and profile model, the parser with file:line:column
//! errors, variable interpolation, assertions and the runner.
//!
//! Typical use (what `flowgate run` does):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use flowgate_harness::{run_suite, Profile, ProcessEnv, RunOptions, Suite};
//! let suite = Suite::read(&["scenarios".into()])?;
//! let profile = Profile::read("scenarios/reference.target.yaml".as_ref(), &ProcessEnv)?;
//! suite.validate_against(&profile)?;
//! let report = run_suite(&suite, &profile, RunOptions { jobs: 4, ..Default::default() }).await;
//! std::process::exit(report.exit_code());
//! # }
//! ```
//!
//! The load crate executes harness steps inside goose transactions with
//! [`prepare_request`], [`check_expect`], [`apply_captures`] and [`PollTracker`].

pub mod console;
pub mod explore;
mod interp;
mod profile;
pub mod run;
pub mod spec;
mod suite;

pub use interp::{
    value_text, EnvMap, EnvSource, InterpError, Layered, Masker, PlaceholderEnv, ProcessEnv, Vars,
};
pub use profile::Profile;
pub use run::assert::{
    check_assertion, check_expect, condition_holds, is_singular_path, query_json, Mismatch,
    ResponseData,
};
pub use run::http::{
    build_client, excerpt, header_pairs, prepare_request, send, PreparedRequest, TransportError,
};
pub use run::{
    apply_captures, mask_scenario, probe_target, run_suite, LoadContext, LoadRunner, PollMachine,
    PollStep, PollTracker, Progress, RunOptions, EXCERPT_BYTES,
};
pub use spec::errors::{ParseError, ParseErrors};
pub use spec::locate::Pos;
pub use spec::model;
pub use spec::model::{library_schema, profile_schema, scenario_schema};
pub use suite::{
    check_scenario_text, conformance_html, conformance_markdown, digest_of, Suite, SuiteScenario,
};
