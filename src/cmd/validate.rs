//! `flowgate validate` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct ValidateArgs {}

pub async fn run(_args: ValidateArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate validate` is not implemented yet"))
}
