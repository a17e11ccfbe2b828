//! `flowgate`: the command line. It composes the harness, the load runner, the reports and
//! the reference server; it is the only crate that links both the harness and the server.

mod build_info;
mod cmd;
mod duration;
mod evidence;
mod exit;
mod reference_target;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Validation and conformance harness for multi-tenant flow orchestrators, with a
/// reference server.
///
/// Exit codes: 0 every gating check passed; 1 a check failed; 2 invalid command line,
/// scenario, profile or waiver file; 3 the target could not be reached (infrastructure error).
#[derive(Parser)]
#[command(name = "flowgate", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the reference orchestrator server.
    Serve(cmd::serve::ServeArgs),
    /// Manage tenants (client accounts, engagements, API keys) of the reference server.
    #[command(subcommand)]
    Tenant(cmd::tenant::TenantCommand),
    /// Run scenarios against a target described by a profile.
    Run(Box<cmd::run::RunArgs>),
    /// Start the reference server in-process, run the whole suite against it, write reports.
    Validate(cmd::validate::ValidateArgs),
    /// Random-walk a target over the operations its profile declares, checking every
    /// property as it goes; shrink what breaks one to a scenario `run` replays.
    Explore(Box<cmd::explore::ExploreArgs>),
    /// Run a load scenario against a target.
    Load(cmd::load::LoadArgs),
    /// Run the suite once per injected defect and show which scenarios caught which defect.
    Selfcheck(cmd::selfcheck::SelfcheckArgs),
    /// Work with stored run results (diff, render).
    #[command(subcommand)]
    Report(cmd::report::ReportCommand),
    /// Print the JSON Schema of scenario or target profile files.
    Schema(cmd::schema::SchemaArgs),
    /// Write the conformance document of a suite: every requirement, its level (must,
    /// should, may), the scenarios that check it and the contract sections they cite.
    Docs(cmd::docs::DocsArgs),
    /// Check an evidence bundle (`run --evidence DIR`).
    #[command(subcommand)]
    Evidence(cmd::evidence::EvidenceCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => cmd::serve::run(args).await,
            Command::Tenant(c) => cmd::tenant::run(c).await,
            Command::Run(args) => cmd::run::run(*args).await,
            Command::Validate(args) => cmd::validate::run(args).await,
            Command::Explore(args) => cmd::explore::run(*args).await,
            Command::Load(args) => cmd::load::run(args).await,
            Command::Selfcheck(args) => cmd::selfcheck::run(args).await,
            Command::Report(c) => cmd::report::run(c).await,
            Command::Schema(args) => cmd::schema::run(args).await,
            Command::Evidence(c) => cmd::evidence::run(c).await,
            Command::Docs(args) => cmd::docs::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
