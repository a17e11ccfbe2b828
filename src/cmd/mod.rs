//! One module per subcommand.

pub mod docs;
pub mod evidence;
pub mod explore;
pub mod load;
pub mod report;
pub mod run;
pub mod schema;
pub mod selfcheck;
pub mod serve;
pub mod tenant;
pub mod validate;

/// The filters and gating flags `run` and `validate` share.
#[derive(clap::Args, Debug, Clone)]
pub struct SelectArgs {
    /// Run only scenarios with this tag (repeatable; any of them).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Leave out scenarios with this tag (repeatable).
    #[arg(long = "skip-tag")]
    pub skip_tags: Vec<String>,
    /// Run only scenarios whose name or id contains this text (repeatable).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Failures of this severity or worse fail the run: critical|high|moderate|low|any.
    #[arg(long, default_value = "any")]
    pub fail_on: String,
    /// Scenarios run at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Write every exchange of the run (identity, request, response, times) to this file
    /// as JSON lines, secrets masked: the history the property checks read.
    #[arg(long)]
    pub history: Option<std::path::PathBuf>,
}

/// Writes every report format into `dir` with the secrets masked, and says where.
pub(crate) fn write_reports(
    report: &flowgate_reports::RunReport,
    dir: &std::path::Path,
    secrets: &[String],
) -> Result<(), crate::exit::CliError> {
    let written = flowgate_reports::write_all_redacted(report, dir, secrets)
        .map_err(|e| crate::exit::CliError::infra(format!("cannot write the reports: {e}")))?;
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Where `validate` and `selfcheck` find the suite and its profile, and where the
/// in-process reference server keeps its data.
#[derive(clap::Args, Debug, Clone)]
pub struct ReferenceArgs {
    /// Run the reference server on this database instead of a temporary SQLite file:
    /// `postgres://...` (a fresh database is created beside the named one and dropped at
    /// the end; the user needs CREATEDB) or `sqlite://PATH` (used as it is).
    #[arg(long)]
    pub database_url: Option<String>,
    /// The suite folder (default: `scenarios` in the current directory, else the one of
    /// the flowgate source tree).
    #[arg(long)]
    pub suite: Option<std::path::PathBuf>,
    /// The target profile (default: `reference.target.yaml`, or `seed.target.yaml`, in the
    /// suite folder or the nearest folder above it).
    #[arg(long)]
    pub target: Option<std::path::PathBuf>,
}
