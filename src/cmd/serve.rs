//! `flowgate serve` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct ServeArgs {}

pub async fn run(_args: ServeArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate serve` is not implemented yet"))
}
