//! `flowgate selfcheck` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct SelfcheckArgs {}

pub async fn run(_args: SelfcheckArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate selfcheck` is not implemented yet"))
}
