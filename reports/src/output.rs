//! Writing the four report files of a run.

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::RunReport;
use crate::redact::redact;
use crate::render::{
    html::render_html, json::render_json, junit::render_junit, markdown::render_markdown,
};

/// The output formats of `report render` and of `--out DIR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Markdown,
    Junit,
    Json,
    Html,
}

impl OutputFormat {
    /// Parses `md|markdown|junit|xml|json|html`.
    pub fn parse(value: &str) -> Option<OutputFormat> {
        match value.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(OutputFormat::Markdown),
            "junit" | "xml" => Some(OutputFormat::Junit),
            "json" => Some(OutputFormat::Json),
            "html" => Some(OutputFormat::Html),
            _ => None,
        }
    }

    /// The file name `write_all` uses for this format.
    pub fn file_name(self) -> &'static str {
        match self {
            OutputFormat::Markdown => "report.md",
            OutputFormat::Junit => "junit.xml",
            OutputFormat::Json => "report.json",
            OutputFormat::Html => "report.html",
        }
    }

    /// Renders the report in this format.
    pub fn render(self, report: &RunReport) -> Result<String, ReportError> {
        Ok(match self {
            OutputFormat::Markdown => render_markdown(report),
            OutputFormat::Junit => render_junit(report)?,
            OutputFormat::Json => render_json(report),
            OutputFormat::Html => render_html(report),
        })
    }

    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Markdown,
        OutputFormat::Junit,
        OutputFormat::Json,
        OutputFormat::Html,
    ];
}

/// Writes `report.md`, `junit.xml`, `report.json` and `report.html` into `dir` (created
/// if missing) and returns their paths. Everything is rendered before anything is
/// written, so a rendering error leaves no partial set behind.
pub fn write_all(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let rendered = OutputFormat::ALL
        .iter()
        .map(|f| Ok((f.file_name(), f.render(report)?)))
        .collect::<Result<Vec<_>, ReportError>>()?;
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for (name, text) in rendered {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// [`write_all`] after masking every secret value in a copy of the report: what
/// `flowgate run`/`validate` call with the values read through `${secret:...}`.
pub fn write_all_redacted(
    report: &RunReport,
    dir: &Path,
    secrets: &[String],
) -> Result<Vec<PathBuf>, ReportError> {
    let mut copy = report.clone();
    redact(&mut copy, secrets)?;
    write_all(&copy, dir)
}

/// Writes one format to one file (`--junit FILE`, `--html FILE`...), secrets masked as in
/// [`write_all_redacted`]. Missing parent directories are created.
pub fn write_one_redacted(
    report: &RunReport,
    format: OutputFormat,
    path: &Path,
    secrets: &[String],
) -> Result<(), ReportError> {
    let mut copy = report.clone();
    redact(&mut copy, secrets)?;
    let text = format.render(&copy)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}
