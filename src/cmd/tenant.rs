//! `flowgate tenant` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Subcommand)]
pub enum TenantCommand {
    /// Placeholder until implemented.
    Todo,
}

pub async fn run(_c: TenantCommand) -> CmdResult {
    Err(CliError::invalid("`flowgate tenant` is not implemented yet"))
}
