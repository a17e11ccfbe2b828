//! `flowgate run` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct RunArgs {}

pub async fn run(_args: RunArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate run` is not implemented yet"))
}
