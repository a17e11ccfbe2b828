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
    /// `json`, or `env`: `export FLOWGATE_TENANT_<AS>_…` lines for the reference profile
    /// (`eval "$(flowgate tenant create --name a --format env --as A)"`).
    #[arg(long, value_enum, default_value = "json")]
    pub format: CredentialsFormat,
    /// With `--format env`: which tenant of the reference profile this is (`A` or `B`).
    #[arg(long = "as", default_value = "A", value_parser = ["A", "B"])]
    pub as_tenant: String,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CredentialsFormat {
    Json,
    Env,
}

/// The `export` lines the reference profile (`scenarios/reference.target.yaml`) reads.
fn env_lines(creds: &flowgate_server::TenantCredentials, tenant: &str) -> String {
    let prefix = format!("FLOWGATE_TENANT_{tenant}");
    let mut lines = vec![
        format!("export {prefix}_KEY='{}'", creds.api_key),
        format!("export {prefix}_ACCOUNT='{}'", creds.client_account_id),
    ];
    let mut engagements = creds.engagements.iter();
    if let Some(e) = engagements.next() {
        lines.push(format!("export {prefix}_ENGAGEMENT='{}'", e.id));
    }
    if let Some(e) = engagements.next() {
        lines.push(format!("export {prefix}_OTHER_ENGAGEMENT='{}'", e.id));
    }
    lines.join("\n") + "\n"
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
            match args.format {
                CredentialsFormat::Json => {
                    let json = serde_json::to_string_pretty(&creds).map_err(|e| {
                        CliError::infra(format!("cannot print the credentials: {e}"))
                    })?;
                    println!("{json}");
                }
                CredentialsFormat::Env => print!("{}", env_lines(&creds, &args.as_tenant)),
            }
            Ok(OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_server::{EngagementInfo, TenantCredentials};

    #[test]
    fn env_lines_are_what_the_reference_profile_reads() {
        let id = |n: u128| uuid::Uuid::from_u128(n);
        let creds = TenantCredentials {
            client_account_id: id(1),
            name: "a".into(),
            engagements: vec![
                EngagementInfo {
                    id: id(2),
                    name: "alpha".into(),
                },
                EngagementInfo {
                    id: id(3),
                    name: "beta".into(),
                },
            ],
            api_key: "fg_abc".into(),
        };
        let text = env_lines(&creds, "A");
        insta::assert_snapshot!(text);
        let profile = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios/reference.target.yaml"),
        )
        .unwrap_or_default();
        for line in text.lines() {
            let name = line
                .trim_start_matches("export ")
                .split('=')
                .next()
                .unwrap_or_default();
            assert!(
                profile.contains(name),
                "the reference profile never reads {name}"
            );
        }
    }
}
