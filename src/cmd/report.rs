//! `flowgate report`: work with stored run results (`report.json`).
//!
//! - `report diff OLD.json NEW.json [--tolerance 10]`: exit 1 when a check that passed
//!   (or was waived) now fails or errors, 2 when a file cannot be read or is not a run
//!   result, 0 otherwise.
//! - `report render RESULT.json --format md|junit|json|html [--output FILE]`.
//! - `report matrix A.json B.json … [--label NAME]… [--format md|html] [-o FILE]`.
//! - `report merge SHARD.json… [--out DIR] [--json FILE]`: the shards of a load run
//!   (`flowgate load --shard I/N`) as one run; exit as `flowgate load` (0, 1, 2, 3).

use std::path::{Path, PathBuf};

use flowgate_reports::{diff_with_floor, from_json, render_diff_text, OutputFormat, RunReport};

use crate::exit::{CliError, CmdResult, FAILED, OK};

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// Compare two stored runs: regressions, fixed, added and removed checks, and
    /// performance changes beyond a tolerance. Exit 1 on a regression.
    Diff(DiffArgs),
    /// Re-render a stored run (report.json) as Markdown, JUnit XML, JSON or HTML.
    Render(RenderArgs),
    /// Several runs side by side: checks × targets (or × versions), with each run's
    /// verdict and pass rate per level.
    Matrix(MatrixArgs),
    /// Merge the shards of a load run (`flowgate load --shard I/N --json F`) into one
    /// result: counts added, latency histograms added, windows aligned on the wall clock,
    /// thresholds judged again on the merged figures.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shards' JSON results, every shard of the run (in any order).
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Write the merged reports (report.md, junit.xml, report.json, report.html) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the merged JSON run result to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct MatrixArgs {
    /// The runs' report.json files, one column each, in this order.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Column titles, one per result (default: the profile's name and system version).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: MatrixFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MatrixFormat {
    Md,
    Html,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The earlier run's report.json.
    pub old: PathBuf,
    /// The later run's report.json.
    pub new: PathBuf,
    /// Relative change, in percent, a latency or throughput figure may move before it is
    /// listed.
    #[arg(long, default_value_t = 10.0, value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Latency changes smaller than this are noise, whatever their percentage.
    #[arg(long, default_value = "5ms", value_parser = crate::duration::parse_duration)]
    pub noise_floor: std::time::Duration,
    /// Refuse (exit 2) to compare runs of different suites, targets, filters or load
    /// settings, instead of warning.
    #[arg(long)]
    pub strict: bool,
}

#[derive(clap::Args)]
pub struct RenderArgs {
    /// The run's report.json.
    pub result: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: RenderFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RenderFormat {
    /// The Markdown sign-off report.
    Md,
    /// JUnit XML for CI.
    Junit,
    /// The run-result model itself.
    Json,
    /// A self-contained HTML page.
    Html,
}

impl From<RenderFormat> for OutputFormat {
    fn from(f: RenderFormat) -> Self {
        match f {
            RenderFormat::Md => OutputFormat::Markdown,
            RenderFormat::Junit => OutputFormat::Junit,
            RenderFormat::Json => OutputFormat::Json,
            RenderFormat::Html => OutputFormat::Html,
        }
    }
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a percentage (a number >= 0)")),
    }
}

pub async fn run(c: ReportCommand) -> CmdResult {
    match c {
        ReportCommand::Diff(args) => run_diff(&args),
        ReportCommand::Render(args) => run_render(&args),
        ReportCommand::Matrix(args) => run_matrix(&args),
        ReportCommand::Merge(args) => run_merge(&args),
    }
}

fn run_merge(args: &MergeArgs) -> CmdResult {
    let runs = args
        .results
        .iter()
        .map(|p| read_run(p).map(|r| (p, r)))
        .collect::<Result<Vec<_>, _>>()?;
    // Every load phase of every shard file, grouped by phase.
    let mut phases: Vec<(String, Vec<flowgate_reports::LoadResult>)> = Vec::new();
    for (path, run) in &runs {
        if run.load.is_empty() {
            return Err(CliError::invalid(format!(
                "{}: no load phase in this result",
                path.display()
            )));
        }
        for l in &run.load {
            match phases.iter_mut().find(|(id, _)| *id == l.id) {
                Some((_, v)) => v.push(l.clone()),
                None => phases.push((l.id.clone(), vec![l.clone()])),
            }
        }
    }
    let merged = phases
        .iter()
        .map(|(_, parts)| flowgate_load::merge_shards(parts))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::invalid)?;
    let (_, first) = &runs[0];
    let mut report = first.clone();
    report.started_at = runs
        .iter()
        .map(|(_, r)| r.started_at)
        .min()
        .unwrap_or(first.started_at);
    report.finished_at = runs
        .iter()
        .map(|(_, r)| r.finished_at)
        .max()
        .unwrap_or(first.finished_at);
    report.duration_ms = u64::try_from(
        (report.finished_at - report.started_at)
            .num_milliseconds()
            .max(0),
    )
    .unwrap_or(0);
    report.load = merged;
    report
        .selection
        .filters
        .push(format!("merged from {} shard results", runs.len()));
    for l in &report.load {
        print!("{}", flowgate_load::render_summary(l));
    }
    if let Some(dir) = &args.out {
        super::write_reports(&report, dir, &[])?;
    }
    if let Some(file) = &args.json {
        std::fs::write(file, flowgate_reports::render_json(&report))
            .map_err(|e| CliError::infra(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(crate::exit::INVALID))
}

fn run_matrix(args: &MatrixArgs) -> CmdResult {
    if !args.labels.is_empty() && args.labels.len() != args.results.len() {
        return Err(CliError::invalid(format!(
            "{} --label for {} results: give one per result, or none",
            args.labels.len(),
            args.results.len()
        )));
    }
    let runs = args
        .results
        .iter()
        .map(|p| read_run(p))
        .collect::<Result<Vec<_>, _>>()?;
    let columns: Vec<flowgate_reports::MatrixColumn<'_>> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut c = flowgate_reports::MatrixColumn::of(r);
            if let Some(l) = args.labels.get(i) {
                c.label = l.clone();
            }
            c
        })
        .collect();
    let text = match args.format {
        MatrixFormat::Md => flowgate_reports::render_matrix_markdown(&columns),
        MatrixFormat::Html => flowgate_reports::render_matrix_html(&columns),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(OK)
}

/// Reads a stored run; any problem is an invalid input (exit 2).
fn read_run(path: &Path) -> Result<RunReport, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))?;
    from_json(&text).map_err(|e| CliError::invalid(format!("{}: {e}", path.display())))
}

fn run_diff(args: &DiffArgs) -> CmdResult {
    let old = read_run(&args.old)?;
    let new = read_run(&args.new)?;
    let d = diff_with_floor(
        &old,
        &new,
        args.tolerance,
        args.noise_floor.as_secs_f64() * 1000.0,
    );
    if args.strict && !d.not_comparable.is_empty() {
        return Err(CliError::invalid(format!(
            "--strict: the runs are not like for like: {}",
            d.not_comparable.join("; ")
        )));
    }
    println!(
        "flowgate report diff: {} ({}) -> {} ({})\n",
        args.old.display(),
        old.started_at.format("%Y-%m-%d %H:%M UTC"),
        args.new.display(),
        new.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    print!("{}", render_diff_text(&d));
    Ok(if d.has_regressions() { FAILED } else { OK })
}

fn run_render(args: &RenderArgs) -> CmdResult {
    let report = read_run(&args.result)?;
    let text = OutputFormat::from(args.format)
        .render(&report)
        .map_err(|e| CliError::infra(e.to_string()))?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::invalid(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(OK)
}
