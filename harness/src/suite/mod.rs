//! Reading a suite: finding its files ([`discover`]), parsing them with positions, and
//! the static checks — structure ([`check`]: step kinds, templates, assertions,
//! thresholds) and names against a profile ([`names`]) — that make a bad file an error
//! with file, line and column before anything is sent.

use crate::interp::{placeholders, value_placeholders, Placeholder, BUILTINS};
use crate::profile::Profile;
use crate::run::assert::{operators_of, parse_json_path};
use crate::spec::errors::{ParseError, ParseErrors};
use crate::spec::locate::{PosIndex, YamlPath};
use crate::spec::model::{
    CaptureSpec, Expect, Library, RequestSpec, Scenario, StatusSpec, Step, StepKind, Template,
};
use crate::spec::parse_think_time;
use crate::spec::threshold::parse_threshold;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

mod check;
mod conformance;
mod discover;
mod names;

use check::*;
pub use conformance::{conformance_html, conformance_markdown};
use discover::*;
pub(crate) use names::captures_of;
use names::*;

/// One scenario file of a suite.
#[derive(Debug, Clone)]
pub struct SuiteScenario {
    /// Path relative to the suite root, without extension (`tenant_isolation/matrix`).
    pub id: String,
    /// The file as given (for messages and reports).
    pub file: String,
    pub scenario: Scenario,
    pub(crate) index: PosIndex,
}

#[derive(Debug, Clone)]
pub(crate) struct SuiteTemplate {
    pub file: String,
    pub index: PosIndex,
    pub path: YamlPath,
    pub template: Template,
}

/// A set of scenarios and the step templates of their libraries.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub scenarios: Vec<SuiteScenario>,
    pub(crate) templates: HashMap<String, SuiteTemplate>,
    /// sha256 over every file read (library and scenarios), each keyed by its path
    /// relative to its suite root: the same suite gives the same digest however its
    /// paths were typed.
    pub digest: String,
    /// Every file read, as (path relative to the suite root, text), in path order: what
    /// the digest covers, and what an evidence bundle keeps.
    pub sources: Vec<(String, String)>,
}

impl Suite {
    /// Loads every scenario under `paths` (files or folders) and the libraries of their
    /// suite roots, and runs the checks that need no profile. All errors are returned.
    pub fn read(paths: &[PathBuf]) -> Result<Suite, ParseErrors> {
        let mut errors = Vec::new();
        let mut scenario_files: Vec<(PathBuf, PathBuf)> = Vec::new(); // (root, file)
        let mut library_files: Vec<PathBuf> = Vec::new();
        let mut seen = BTreeSet::new();
        for p in paths {
            if p.is_dir() {
                let root = suite_root(p);
                let mut files = Vec::new();
                if let Err(e) = walk_dir(p, &mut files) {
                    errors.push(ParseError::unplaced(
                        &p.display().to_string(),
                        format!("cannot read the folder: {e}"),
                    ));
                    continue;
                }
                for f in files {
                    let rel = f.strip_prefix(p).unwrap_or(&f).to_path_buf();
                    let key = std::fs::canonicalize(&f).unwrap_or(f.clone());
                    if !seen.insert(key) {
                        continue;
                    }
                    if has_component(&rel, "lib") {
                        library_files.push(f);
                    } else if is_profile_or_waivers(&f) || has_component(&rel, "data") {
                        continue;
                    } else {
                        scenario_files.push((root.clone(), f));
                    }
                }
                add_library_of(&root, &mut seen, &mut library_files);
            } else if p.is_file() {
                let key = std::fs::canonicalize(p).unwrap_or(p.clone());
                if !seen.insert(key) {
                    continue;
                }
                let root = suite_root(p);
                add_library_of(&root, &mut seen, &mut library_files);
                scenario_files.push((root, p.clone()));
            } else {
                errors.push(ParseError::unplaced(
                    &p.display().to_string(),
                    "no such file or folder",
                ));
            }
        }

        let mut suite = Suite::default();
        let mut digested: Vec<(String, String)> = Vec::new();
        for f in &library_files {
            let file = f.display().to_string();
            let Some(text) = read_text(f, &mut errors) else {
                continue;
            };
            let lib_name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            digested.push((format!("lib/{lib_name}"), text.clone()));
            let (lib, index) = match parse_library(&text, &file) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for (name, template) in lib.templates {
                let path = YamlPath::default().key("templates").key(&name);
                if let Some(prev) = suite.templates.get(&name) {
                    errors.push(ParseError::at(
                        &file,
                        &index,
                        &path,
                        true,
                        format!("template `{name}` is also defined in {}", prev.file),
                    ));
                    continue;
                }
                suite.templates.insert(
                    name,
                    SuiteTemplate {
                        file: file.clone(),
                        index: index.clone(),
                        path,
                        template,
                    },
                );
            }
        }
        // Check template bodies once, in their own files.
        let names: Vec<String> = suite.templates.keys().cloned().collect();
        for name in names {
            let Some(mut t) = suite.templates.remove(&name) else {
                continue;
            };
            let dir = Path::new(&t.file)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let ctx = Ctx {
                file: &t.file,
                index: &t.index,
                dir: &dir,
            };
            let steps_path = t.path.key("steps");
            check_steps(
                &ctx,
                &mut t.template.steps,
                &steps_path,
                &suite,
                &mut errors,
            );
            for p in &t.template.params {
                if !is_var_name(p) {
                    errors.push(ctx.err(
                        &t.path.key("params"),
                        format!("invalid parameter name `{p}`"),
                    ));
                }
            }
            suite.templates.insert(name, t);
        }

        let mut names: HashMap<String, String> = HashMap::new();
        for (root, f) in scenario_files {
            let file = f.display().to_string();
            let Some(text) = read_text(&f, &mut errors) else {
                continue;
            };
            let ext = f
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_else(|| "yaml".into());
            digested.push((format!("{}.{ext}", scenario_id(&root, &f)), text.clone()));
            let mut loaded = match parse_scenario(&text, &file) {
                Ok((scenario, index)) => SuiteScenario {
                    id: scenario_id(&root, &f),
                    file: file.clone(),
                    scenario,
                    index,
                },
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let dir = f.parent().unwrap_or(Path::new(".")).to_path_buf();
            check_scenario(&mut loaded, &dir, &suite, &mut errors);
            if let Some(prev) = names.insert(loaded.scenario.name.clone(), file.clone()) {
                errors.push(ParseError::at(
                    &file,
                    &loaded.index,
                    &YamlPath::default().key("name"),
                    false,
                    format!(
                        "scenario name `{}` is also used by {prev}",
                        loaded.scenario.name
                    ),
                ));
            }
            suite.scenarios.push(loaded);
        }
        suite.scenarios.sort_by(|a, b| a.id.cmp(&b.id));
        digested.sort();
        digested.dedup_by(|a, b| a.0 == b.0);
        suite.digest = digest_of(&digested);
        suite.sources = digested;
        if errors.is_empty() {
            Ok(suite)
        } else {
            Err(ParseErrors(errors))
        }
    }

    /// Checks every name the suite uses against a profile: identities, variables,
    /// captures, state machines, load identities. Run before anything is sent.
    pub fn validate_against(&self, profile: &Profile) -> Result<(), ParseErrors> {
        let mut errors = Vec::new();
        for s in &self.scenarios {
            check_names(s, profile, self, &mut errors);
        }
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert(e.to_string()));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ParseErrors(errors))
        }
    }

    pub(crate) fn template(&self, name: &str) -> Option<&Template> {
        self.templates.get(name).map(|t| &t.template)
    }

    /// Names of the templates of the suite's libraries.
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.templates.keys().cloned().collect();
        v.sort();
        v
    }
}

/// Parses a scenario file's text (no checks beyond the format).
pub(crate) fn parse_scenario(text: &str, file: &str) -> Result<(Scenario, PosIndex), ParseError> {
    let scenario: Scenario =
        serde_yaml_ng::from_str(text).map_err(|e| ParseError::from_yaml(file, &e))?;
    Ok((scenario, PosIndex::build(text)))
}

fn parse_library(text: &str, file: &str) -> Result<(Library, PosIndex), ParseError> {
    let lib: Library =
        serde_yaml_ng::from_str(text).map_err(|e| ParseError::from_yaml(file, &e))?;
    Ok((lib, PosIndex::build(text)))
}

/// Parses and checks one scenario text with no libraries (used by fuzzing and editors).
pub fn check_scenario_text(text: &str, file: &str) -> Result<Scenario, ParseErrors> {
    let (scenario, index) = parse_scenario(text, file)?;
    let mut loaded = SuiteScenario {
        id: file.to_string(),
        file: file.to_string(),
        scenario,
        index,
    };
    let mut errors = Vec::new();
    check_scenario(&mut loaded, Path::new("."), &Suite::default(), &mut errors);
    if errors.is_empty() {
        Ok(loaded.scenario)
    } else {
        Err(ParseErrors(errors))
    }
}

/// A file's text, or the reason it cannot be read among `errors`.
fn read_text(f: &Path, errors: &mut Vec<ParseError>) -> Option<String> {
    match std::fs::read_to_string(f) {
        Ok(t) => Some(t),
        Err(e) => {
            let file = f.display().to_string();
            errors.push(ParseError::unplaced(&file, format!("cannot read: {e}")));
            None
        }
    }
}

/// sha256 over `(name, text)` pairs (sorted by name), each as `name\0len\0text`.
pub fn digest_of(files: &[(String, String)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.len().to_string().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}
