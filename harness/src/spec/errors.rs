//! Load errors: every problem in a scenario, library or profile file, with its position.

use crate::spec::locate::{PosIndex, YamlPath};
use regex::Regex;
use std::sync::OnceLock;

/// One problem in an input file: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    /// 1-based; `None` when the problem is not tied to a place (unreadable file).
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.file, l, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Every problem found while loading (the loader reports them all, not just the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseErrors(pub Vec<ParseError>);

impl std::fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseErrors {}

impl From<ParseError> for ParseErrors {
    fn from(e: ParseError) -> Self {
        ParseErrors(vec![e])
    }
}

fn location_suffix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\s+at line \d+ column \d+").unwrap_or_else(|_| unreachable!()))
}

impl ParseError {
    pub(crate) fn unplaced(file: &str, message: impl Into<String>) -> ParseError {
        ParseError {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A serde_yaml_ng error, with the position it carries.
    pub(crate) fn from_yaml(file: &str, e: &serde_yaml_ng::Error) -> ParseError {
        let text = e.to_string();
        let message = location_suffix().replace_all(&text, "").into_owned();
        let (line, column) = match e.location() {
            Some(l) => (Some(l.line()), Some(l.column())),
            None => (None, None),
        };
        ParseError {
            file: file.to_string(),
            line,
            column,
            message,
        }
    }

    /// A semantic error at a node (its value, or the key introducing it).
    pub(crate) fn at(
        file: &str,
        index: &PosIndex,
        path: &YamlPath,
        on_key: bool,
        message: impl Into<String>,
    ) -> ParseError {
        let pos = if on_key {
            index.key(path)
        } else {
            index.value(path)
        };
        ParseError {
            file: file.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message: message.into(),
        }
    }
}
