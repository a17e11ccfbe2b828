//! `flowgate docs`: the conformance document of a suite (every requirement, its level,
//! the scenarios that check it, the contract sections they cite).

use crate::exit::{CliError, CmdResult, OK};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DocsFormat {
    Md,
    Html,
}

#[derive(clap::Args)]
pub struct DocsArgs {
    /// The suite folder (default: `scenarios` here, else the flowgate source tree's).
    #[arg(long)]
    suite: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "md")]
    format: DocsFormat,
    /// Write the document to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Put this before each relative citation in links (e.g. `../server/` for the
    /// shipped suite, whose scenarios cite `API.md#…`).
    #[arg(long, default_value = "")]
    cite_base: String,
    /// The document's title (default: the suite folder's name).
    #[arg(long)]
    title: Option<String>,
}

pub async fn run(args: DocsArgs) -> CmdResult {
    let dir = crate::reference_target::resolve_suite_dir(args.suite.as_deref())?;
    let suite =
        flowgate_harness::Suite::read(std::slice::from_ref(&dir)).map_err(CliError::invalid)?;
    let title = args.title.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string())
    });
    let text = match args.format {
        DocsFormat::Md => flowgate_harness::conformance_markdown(&suite, &title, &args.cite_base),
        DocsFormat::Html => flowgate_harness::conformance_html(&suite, &title, &args.cite_base),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| CliError::infra(format!("cannot write {}: {e}", path.display())))?;
            println!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(OK)
}
