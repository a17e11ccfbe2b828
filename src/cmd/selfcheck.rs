//! `flowgate selfcheck`: a conformance suite is only worth the defects it catches.
//!
//! Runs the suite once against the correct reference server (every scenario must pass:
//! anything else is a false alarm), then once per injected defect, and prints the matrix
//! of defects × the scenarios that caught them, with the detection rate. The reports of the
//! baseline run carry the matrix as the suite's strength.

use crate::exit::{CliError, CmdResult, FAILED, OK};
use crate::reference_target::{read_reference_suite, ReferenceTarget};
use flowgate_harness::explore::{explore, ExploreOptions};
use flowgate_harness::{run_suite, Layered, ProcessEnv, Profile, RunOptions, Suite};
use flowgate_reports::{DefectDetection, ExploreCatch, Outcome, RunReport, SelfCheck};
use flowgate_server::defects::{Defect, Defects};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct SelfcheckArgs {
    #[command(flatten)]
    reference: super::ReferenceArgs,
    /// Check only these defects (repeatable; default: every defect the server knows).
    #[arg(long = "defect")]
    defects: Vec<String>,
    /// Write the baseline run's reports, with the defect matrix, into this folder.
    #[arg(long, default_value = "flowgate-out/selfcheck")]
    out: PathBuf,
    /// Scenarios run at once.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Stop each defect's run at its first failing scenario: proves that every defect is
    /// caught, in a fraction of the time, but lists only the first catchers.
    #[arg(long)]
    quick: bool,
    /// Leave out scenarios with this tag (repeatable).
    #[arg(long = "skip-tag")]
    skip_tags: Vec<String>,
    /// Also explore each server (`flowgate explore`) for this many steps: the matrix
    /// gains an Explore column, and a defect only the explorer finds counts as caught.
    /// 0: no exploring. Needs an `explore:` section in the profile. With `--quick`, only
    /// the defects no scenario caught are explored, and nothing is shrunk.
    #[arg(long, default_value_t = 1000)]
    explore_steps: usize,
    /// The explorer's seed.
    #[arg(long, default_value_t = 1)]
    explore_seed: u64,
}

pub async fn run(args: SelfcheckArgs) -> CmdResult {
    if args.jobs == 0 {
        return Err(CliError::invalid("--jobs must be at least 1"));
    }
    let defects: Vec<Defect> = if args.defects.is_empty() {
        Defect::ALL.to_vec()
    } else {
        Defects::parse(&args.defects)
            .map_err(CliError::invalid)?
            .iter()
            .collect()
    };
    let (suite_dir, profile_path, suite) = read_reference_suite(
        args.reference.suite.as_deref(),
        args.reference.target.as_deref(),
    )?;

    println!(
        "flowgate selfcheck: suite {} ({} scenarios), {} defects",
        suite_dir.display(),
        suite.scenarios.len(),
        defects.len()
    );

    let ctx = CheckContext {
        suite: &suite,
        profile_path: &profile_path,
        database_url: args.reference.database_url.as_deref(),
        jobs: args.jobs,
        skip_tags: &args.skip_tags,
    };
    let mut baseline = ctx.run_once(Defects::none(), false).await?;
    let mut false_alarms = not_passed(&baseline);
    println!(
        "  {:<28} {}",
        "(no defect)",
        if false_alarms.is_empty() {
            "all scenarios passed".to_string()
        } else {
            format!("FALSE ALARMS: {}", false_alarms.join(", "))
        }
    );
    let explore = (args.explore_steps > 0).then_some(ExploreRun {
        steps: args.explore_steps,
        seed: args.explore_seed,
        shrink: !args.quick,
    });
    if let Some(e) = &explore {
        if let Some(c) = ctx.explore_once(Defects::none(), e).await? {
            println!("  {:<28} explore: {}", "(no defect)", explore_line(&c));
            if let Some(p) = &c.property {
                false_alarms.push(format!("explore: properties/{p}"));
            }
        }
    }

    let mut detections = Vec::with_capacity(defects.len());
    for defect in defects {
        let report = ctx
            .run_once(std::iter::once(defect).collect(), args.quick)
            .await?;
        let caught_by = not_passed(&report);
        let explored = match &explore {
            // --quick proves each defect caught, fastest: the explorer only goes where
            // no scenario caught it.
            Some(_) if args.quick && !caught_by.is_empty() => None,
            Some(e) => {
                ctx.explore_once(std::iter::once(defect).collect(), e)
                    .await?
            }
            None => None,
        };
        let detection = DefectDetection {
            defect: defect.name().to_string(),
            description: defect.description().to_string(),
            caught_by,
            explore: explored,
        };
        println!(
            "  {:<28} {}{}",
            defect.name(),
            if detection.caught_by.is_empty() {
                if detection.is_caught() {
                    "no scenario caught it".to_string()
                } else {
                    "NOT CAUGHT".to_string()
                }
            } else {
                format!(
                    "caught by {}: {}",
                    detection.caught_by.len(),
                    summarize(&detection.caught_by)
                )
            },
            detection
                .explore
                .as_ref()
                .map(|c| format!("; explore: {}", explore_line(c)))
                .unwrap_or_default()
        );
        detections.push(detection);
    }

    let selfcheck = SelfCheck {
        defects: detections,
        false_alarms,
        quick: args.quick,
    };
    let rate = selfcheck.detection_rate();
    let caught = selfcheck.caught();
    println!(
        "detection rate: {:.1}% ({caught}/{} defects caught), false alarms: {}",
        rate * 100.0,
        selfcheck.defects.len(),
        selfcheck.false_alarms.len()
    );
    if args.quick {
        println!("redundancy: not measured (--quick stops at each defect's first catcher)");
    } else {
        let single = selfcheck.single_catchers();
        let explorer_only: Vec<&str> = selfcheck
            .defects
            .iter()
            .filter(|d| d.caught_by.is_empty() && d.is_caught())
            .map(|d| d.defect.as_str())
            .collect();
        if !explorer_only.is_empty() {
            println!("caught by the explorer only: {}", explorer_only.join(", "));
        }
        let min = selfcheck
            .defects
            .iter()
            .map(|d| d.caught_by.len())
            .filter(|n| *n > 0)
            .min()
            .unwrap_or(0);
        println!(
            "redundancy: every defect a scenario catches is caught by at least {min} check{}{}",
            if min == 1 { "" } else { "s" },
            if single.is_empty() {
                String::new()
            } else {
                format!("; caught by one only: {}", single.join(", "))
            }
        );
    }
    let sound = caught == selfcheck.defects.len() && selfcheck.false_alarms.is_empty();
    baseline.selfcheck = Some(selfcheck);
    crate::build_info::stamp(&mut baseline);
    let written = flowgate_reports::write_all(&baseline, &args.out)
        .map_err(|e| CliError::infra(format!("cannot write the reports: {e}")))?;
    for p in written {
        println!("wrote {}", p.display());
    }
    Ok(if sound { OK } else { FAILED })
}

/// The longest `selfcheck` walks one server.
const EXPLORE_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// How `selfcheck` explores each server.
struct ExploreRun {
    steps: usize,
    seed: u64,
    shrink: bool,
}

fn explore_line(c: &ExploreCatch) -> String {
    match &c.property {
        Some(p) => format!(
            "{p} after {} steps ({:.1} s{})",
            c.steps,
            c.seconds,
            c.repro_steps
                .map(|n| format!("; repro {n} steps"))
                .unwrap_or_default()
        ),
        None => format!("every property held for {} steps", c.steps),
    }
}

struct CheckContext<'a> {
    suite: &'a Suite,
    profile_path: &'a Path,
    database_url: Option<&'a str>,
    jobs: usize,
    skip_tags: &'a [String],
}

impl CheckContext<'_> {
    /// One suite run against a fresh reference server with these defects.
    async fn run_once(&self, defects: Defects, fail_fast: bool) -> Result<RunReport, CliError> {
        let target = ReferenceTarget::start(self.database_url, defects).await?;
        let env = Layered(target.env(), ProcessEnv);
        let report = match Profile::read(self.profile_path, &env) {
            Ok(profile) => {
                let opts = RunOptions {
                    skip_tags: self.skip_tags.to_vec(),
                    jobs: self.jobs,
                    fail_fast,
                    ..RunOptions::default()
                };
                Ok(run_suite(self.suite, &profile, opts).await)
            }
            Err(e) => Err(CliError::invalid(e)),
        };
        target.stop().await;
        report
    }
}

impl CheckContext<'_> {
    /// One exploration of a fresh reference server with these defects (`None`: the
    /// profile declares no `explore:` section).
    async fn explore_once(
        &self,
        defects: Defects,
        run: &ExploreRun,
    ) -> Result<Option<ExploreCatch>, CliError> {
        let target = ReferenceTarget::start(self.database_url, defects).await?;
        let env = Layered(target.env(), ProcessEnv);
        let outcome = match Profile::read(self.profile_path, &env) {
            Ok(profile) if profile.spec.explore.is_some() => {
                let e = explore(
                    &profile,
                    ExploreOptions {
                        seed: run.seed,
                        steps: run.steps,
                        shrink: run.shrink,
                        // A defect like slow-responses makes every step slow: the
                        // matrix bounds each exploration.
                        duration: EXPLORE_BUDGET,
                        ..ExploreOptions::default()
                    },
                )
                .await;
                Ok(Some(match e.found {
                    Some(f) => ExploreCatch {
                        property: Some(f.property),
                        seed: run.seed,
                        steps: f.after_steps,
                        seconds: f.after.as_secs_f64(),
                        repro_steps: f.repro.filter(|r| r.reproduced).map(|r| r.steps),
                    },
                    None => ExploreCatch {
                        property: None,
                        seed: run.seed,
                        steps: e.steps_run,
                        seconds: e.walk_time.as_secs_f64(),
                        repro_steps: None,
                    },
                }))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(CliError::invalid(e)),
        };
        target.stop().await;
        outcome
    }
}

/// Ids of the scenarios (and load phases) that failed or errored: the ones that noticed.
fn not_passed(report: &RunReport) -> Vec<String> {
    report
        .checks()
        .filter(|(_, _, _, outcome)| matches!(outcome, Outcome::Failed | Outcome::Error))
        .map(|(id, _, _, _)| id.to_string())
        .collect()
}

fn summarize(ids: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        s.push_str(&format!(", … (+{})", ids.len() - SHOWN));
    }
    s
}
