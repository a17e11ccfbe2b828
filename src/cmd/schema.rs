//! `flowgate schema` (not yet implemented).

use crate::exit::{CliError, CmdResult};

#[derive(clap::Args)]
pub struct SchemaArgs {}

pub async fn run(_args: SchemaArgs) -> CmdResult {
    Err(CliError::invalid("`flowgate schema` is not implemented yet"))
}
