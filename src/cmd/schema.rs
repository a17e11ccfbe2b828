//! `flowgate schema [scenario|profile|library|waivers]`: the JSON Schema of the input files, generated
//! from the same model the parser uses.

use crate::exit::{CliError, CmdResult, OK};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SchemaKind {
    /// Scenario files.
    Scenario,
    /// Target profiles (`*.target.yaml`).
    Profile,
    /// Library files (`lib/*.yaml`).
    Library,
    /// Waivers files (`--waivers FILE`).
    Waivers,
}

#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Which file format.
    #[arg(value_enum, default_value = "scenario")]
    kind: SchemaKind,
}

pub async fn run(args: SchemaArgs) -> CmdResult {
    let schema = match args.kind {
        SchemaKind::Scenario => flowgate_harness::scenario_schema(),
        SchemaKind::Profile => flowgate_harness::profile_schema(),
        SchemaKind::Library => flowgate_harness::library_schema(),
        SchemaKind::Waivers => flowgate_reports::waivers_schema(),
    };
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| CliError::infra(format!("cannot render the schema: {e}")))?;
    println!("{text}");
    Ok(OK)
}
