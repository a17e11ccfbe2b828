//! `flowgate tenant`: provision client accounts of the reference server.

use crate::exit::{CliError, CmdResult, OK};
use flowgate_server::db::Db;

#[derive(clap::Subcommand)]
pub enum TenantCommand {
    /// Create a client account with its engagements and one API key; prints them as JSON.
    /// The key is shown only this once.
    Create(CreateArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The client account's name.
    #[arg(long)]
    pub name: String,
    /// An engagement to create (repeatable); the first is the default. Default: `default`.
    #[arg(long = "engagement", value_name = "NAME")]
    pub engagements: Vec<String>,
    /// `postgres://...` or `sqlite://PATH`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://flowgate.db")]
    pub database_url: String,
}

pub async fn run(c: TenantCommand) -> CmdResult {
    match c {
        TenantCommand::Create(args) => {
            let db = Db::connect(&args.database_url, 2)
                .await
                .map_err(|e| CliError::infra(e.to_string()))?;
            let names: Vec<&str> = args.engagements.iter().map(String::as_str).collect();
            let creds = flowgate_server::provision_tenant(&db, &args.name, &names)
                .await
                .map_err(|e| match e {
                    flowgate_server::TenantError::Invalid(m) => CliError::invalid(m),
                    other => CliError::infra(other.to_string()),
                })?;
            let json = serde_json::to_string_pretty(&creds)
                .map_err(|e| CliError::infra(format!("cannot print the credentials: {e}")))?;
            println!("{json}");
            Ok(OK)
        }
    }
}
