//! `flowgate load` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct LoadArgs {}

pub async fn run(_args: LoadArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate load` is not implemented yet"))
}
