//! `flowgate explore`: a seeded random walk over the operations a target profile declares,
//! checking every property of the profile as it goes, and shrinking what breaks one to a
//! scenario that `flowgate run` replays. Against a target of the profile, or against the
//! reference server started in-process (`--reference`, as `validate` does).

use crate::exit::{CliError, CmdResult, INVALID};
use crate::reference_target::{find_profile, resolve_suite_dir, ReferenceTarget};
use flowgate_harness::explore::{explore, plan_yaml, Exploration, ExploreOptions};
use flowgate_harness::{probe_target, Layered, ProcessEnv, Profile};
use flowgate_server::defects::Defects;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// The target profile (*.target.yaml) with an `explore:` section. With `--reference`:
    /// default the reference profile of the suite folder.
    #[arg(long)]
    target: Option<PathBuf>,
    /// Start the reference server in-process on a fresh database (like `validate`) and
    /// explore it.
    #[arg(long)]
    reference: bool,
    /// With `--reference`: start it with this injected defect (repeatable).
    #[arg(long = "defect", requires = "reference")]
    defects: Vec<String>,
    /// With `--reference`: the database (default: a temporary SQLite file).
    #[arg(long, requires = "reference")]
    database_url: Option<String>,
    /// The seed: the same seed gives the same sequence of steps.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps in all (shared between the walkers).
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// Stop taking steps after this long (e.g. `90s`, `5m`).
    #[arg(long, default_value = "5m", value_parser = crate::duration::parse_duration)]
    duration: std::time::Duration,
    /// Walkers at once, each with its own sequence.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Write the reports (report.md, junit.xml, report.json, report.html) and the shrunk
    /// reproduction (`repro-<property>.yaml`) into this folder.
    #[arg(long, default_value = "flowgate-out/explore")]
    out: PathBuf,
    /// Do not shrink a walk that broke a property (report it as found).
    #[arg(long)]
    no_shrink: bool,
    /// Print the walk of `--seed` as scenario YAML and exit, sending nothing.
    #[arg(long)]
    print_plan: bool,
    /// Print only the verdict.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub async fn run(args: ExploreArgs) -> CmdResult {
    if args.concurrency == 0 || args.steps == 0 {
        return Err(CliError::invalid(
            "--steps and --concurrency must be at least 1",
        ));
    }
    let defects = Defects::parse(&args.defects).map_err(CliError::invalid)?;
    let profile_path = match (&args.target, args.reference) {
        (Some(p), _) => p.clone(),
        (None, true) => find_profile(&resolve_suite_dir(None)?)?,
        (None, false) => {
            return Err(CliError::invalid(
                "give the target's profile (--target FILE) or explore the reference server (--reference)",
            ))
        }
    };
    // Every file error is found before anything starts.
    let placeholder = Profile::read(&profile_path, &flowgate_harness::PlaceholderEnv)
        .map_err(CliError::invalid)?;
    if placeholder.spec.explore.is_none() {
        return Err(CliError::invalid(format!(
            "{}: no `explore:` section: the profile does not say which operations a walk may call (see harness/SCENARIOS.md, \"Exploring\")",
            profile_path.display()
        )));
    }
    if args.print_plan {
        print!(
            "{}",
            plan_yaml(&placeholder, args.seed, args.steps).unwrap_or_default()
        );
        return Ok(crate::exit::OK);
    }
    let opts = ExploreOptions {
        seed: args.seed,
        steps: args.steps,
        duration: args.duration,
        concurrency: args.concurrency,
        shrink: !args.no_shrink,
        progress: !args.quiet,
    };
    if args.reference {
        let target = ReferenceTarget::start(args.database_url.as_deref(), defects).await?;
        if !args.quiet {
            println!("{}", target.describe());
        }
        let env = Layered(target.env(), ProcessEnv);
        let outcome = match Profile::read(&profile_path, &env) {
            Ok(profile) => tokio::select! {
                r = explore_and_report(&profile, opts, &args.out, args.quiet) => r,
                _ = tokio::signal::ctrl_c() => Err(CliError::infra("interrupted; the reference server was stopped")),
            },
            Err(e) => Err(CliError::invalid(e)),
        };
        target.stop().await;
        return outcome;
    }
    let profile = Profile::read(&profile_path, &ProcessEnv).map_err(CliError::invalid)?;
    probe_target(&profile).await.map_err(CliError::infra)?;
    explore_and_report(&profile, opts, &args.out, args.quiet).await
}

async fn explore_and_report(
    profile: &Profile,
    opts: ExploreOptions,
    out: &Path,
    quiet: bool,
) -> CmdResult {
    if !quiet {
        println!(
            "flowgate explore: target {}, seed {}, {} steps, {} walker(s)",
            profile.spec.name, opts.seed, opts.steps, opts.concurrency
        );
    }
    let mut found = explore(profile, opts).await;
    crate::build_info::stamp(&mut found.report);
    let secrets: Vec<String> = profile.masker.secrets().to_vec();
    super::write_reports(&found.report, out, &secrets)?;
    if let Some(repro) = found
        .found
        .as_ref()
        .and_then(|f| f.repro.as_ref().map(|r| (f, r)))
    {
        let (f, r) = repro;
        let file = out.join(format!("repro-{}.yaml", f.property));
        std::fs::write(&file, profile.masker.mask(&r.yaml))
            .map_err(|e| CliError::infra(format!("cannot write {}: {e}", file.display())))?;
        println!("wrote {}", file.display());
    }
    println!("{}", verdict(&found));
    Ok(u8::try_from(found.report.exit_code()).unwrap_or(INVALID))
}

/// One line: what the walk did and what it found.
fn verdict(e: &Exploration) -> String {
    let rate = e.steps_run as f64 / e.walk_time.as_secs_f64().max(1e-3);
    let walk = format!(
        "seed {}: {} steps in {:.1} s ({rate:.0} steps/s)",
        e.seed,
        e.steps_run,
        e.walk_time.as_secs_f64()
    );
    match &e.found {
        None => format!("{walk}; every property holds"),
        Some(f) => {
            let repro = match &f.repro {
                Some(r) if r.reproduced => {
                    format!("; shrunk to {} steps (repro-{}.yaml)", r.steps, f.property)
                }
                Some(r) => format!(
                    "; no replay broke it again, the {} steps are in repro-{}.yaml",
                    r.steps, f.property
                ),
                None => String::new(),
            };
            format!(
                "{walk}; BROKEN: {} after {} steps ({:.1} s){repro}",
                f.property,
                f.after_steps,
                f.after.as_secs_f64()
            )
        }
    }
}
