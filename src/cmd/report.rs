//! `flowgate report` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// Placeholder until implemented.
    Todo,
}

pub async fn run(_c: ReportCommand) -> CmdResult {
    Err(CliError::invalid("`flowgate report` is not implemented yet"))
}
