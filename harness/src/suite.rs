//! Loading a suite: finding files, parsing them with positions, and the static checks
//! (step kinds, templates, assertions, then names against a profile) that make a bad
//! file a load error before anything is sent.

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
}

fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

fn is_profile_or_waivers(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".target.yaml")
        || name.ends_with(".target.yml")
        || name == "waivers.yaml"
        || name == "waivers.yml"
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk_dir(&p, out)?;
        } else if is_yaml(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn has_component(rel: &Path, name: &str) -> bool {
    rel.parent()
        .map(|p| p.components().any(|c| c.as_os_str() == name))
        .unwrap_or(false)
}

fn scenario_id(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let rel = rel.with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The suite root of a path (a scenario file or a folder of them): the nearest folder at
/// or above it that has a `lib` folder and is marked as a suite — it is the path's own
/// folder, or lies inside the current directory, or holds a target profile
/// (`*.target.yaml`) — else the path's own folder. So `flowgate run
/// scenarios/error_handling` from anywhere finds `scenarios/lib`, scenario ids stay
/// relative to `scenarios/`, and system folders such as `/lib` or `/usr/lib` are never
/// taken for a suite's library.
fn suite_root(path: &Path) -> PathBuf {
    let own = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let own_abs = std::fs::canonicalize(&own).unwrap_or_else(|_| own.clone());
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    for (i, d) in own_abs.ancestors().enumerate() {
        if d.parent().is_none() {
            break; // never the filesystem root
        }
        let marked = i == 0 || cwd.as_ref().is_some_and(|c| d.starts_with(c)) || has_profile(d);
        if marked && d.join("lib").is_dir() {
            return if i == 0 { own } else { d.to_path_buf() };
        }
    }
    own
}

fn has_profile(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            is_profile_or_waivers(&e.path())
                && e.file_name() != "waivers.yaml"
                && e.file_name() != "waivers.yml"
        })
    })
}

/// Context of the file being checked.
struct Ctx<'a> {
    file: &'a str,
    index: &'a PosIndex,
    dir: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, path: &YamlPath, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.file, self.index, path, false, msg)
    }
    fn err_key(&self, path: &YamlPath, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.file, self.index, path, true, msg)
    }
}

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Adds the files of `root/lib` not seen yet to the library files.
fn add_library_of(root: &Path, seen: &mut BTreeSet<PathBuf>, library_files: &mut Vec<PathBuf>) {
    let mut files = Vec::new();
    if walk_dir(&root.join("lib"), &mut files).is_ok() {
        for f in files {
            let key = std::fs::canonicalize(&f).unwrap_or(f.clone());
            if seen.insert(key) {
                library_files.push(f);
            }
        }
    }
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
        for f in &library_files {
            let file = f.display().to_string();
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(ParseError::unplaced(&file, format!("cannot read: {e}")));
                    continue;
                }
            };
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
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(ParseError::unplaced(&file, format!("cannot read: {e}")));
                    continue;
                }
            };
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

fn check_scenario(s: &mut SuiteScenario, dir: &Path, suite: &Suite, errors: &mut Vec<ParseError>) {
    let index = s.index.clone();
    let ctx = Ctx {
        file: &s.file,
        index: &index,
        dir,
    };
    let root = YamlPath::default();
    let sc = &mut s.scenario;
    if sc.name.trim().is_empty() {
        errors.push(ctx.err(&root.key("name"), "the scenario name is empty"));
    }
    if !is_snake_case(&sc.category) {
        errors.push(ctx.err(
            &root.key("category"),
            format!("category `{}` must be snake_case", sc.category),
        ));
    }
    for (k, _) in sc.variables.iter() {
        if !is_var_name(k) {
            errors.push(ctx.err_key(
                &root.key("variables").key(k),
                format!("invalid variable name `{k}`"),
            ));
        }
    }
    match &mut sc.load {
        Some(load) => {
            if !sc.steps.is_empty() {
                errors.push(ctx.err_key(
                    &root.key("load"),
                    "a scenario has either `steps` or `load`, not both",
                ));
            }
            let lp = root.key("load");
            if load.users == 0 {
                errors.push(ctx.err(&lp.key("users"), "`users` must be at least 1"));
            }
            if load.duration.is_none() && load.iterations.is_none() {
                errors.push(ctx.err_key(&lp, "a load phase needs `duration` or `iterations`"));
            }
            if let Some(t) = &load.think_time {
                if parse_think_time(t).is_none() {
                    errors.push(ctx.err(
                        &lp.key("think_time"),
                        format!("invalid think_time `{t}`: expected `100ms` or `100ms..500ms`"),
                    ));
                }
            }
            if load.transactions.is_empty() {
                errors.push(ctx.err(
                    &lp.key("transactions"),
                    "a load phase needs at least one transaction",
                ));
            }
            let mut request_names = BTreeSet::new();
            for (ti, tx) in load.transactions.iter_mut().enumerate() {
                let tp = lp.key("transactions").index(ti).key("steps");
                check_steps(&ctx, &mut tx.steps, &tp, suite, errors);
                for (si, step) in tx.steps.iter().enumerate() {
                    request_names.insert(step.name.clone());
                    if !matches!(
                        step.kinds().as_slice(),
                        [StepKind::Request] | [StepKind::Poll]
                    ) {
                        errors.push(ctx.err(
                            &tp.index(si),
                            "load transactions may only contain `request` and `poll` steps",
                        ));
                    }
                }
            }
            for (i, t) in load.thresholds.iter().enumerate() {
                let p = lp.key("thresholds").index(i);
                match parse_threshold(t, i) {
                    Ok(th) => {
                        if let Some(r) = &th.request {
                            if !request_names.contains(r) {
                                errors.push(ctx.err(
                                    &p,
                                    format!(
                                        "threshold `{t}` names request `{r}`, which no step has (steps: {})",
                                        request_names.iter().cloned().collect::<Vec<_>>().join(", ")
                                    ),
                                ));
                            }
                        }
                    }
                    Err(e) => errors.push(ctx.err(&p, e.to_string())),
                }
            }
        }
        None => {
            if sc.steps.is_empty() {
                errors
                    .push(ctx.err_key(&root.key("steps"), "a scenario needs `steps` (or `load`)"));
            }
        }
    }
    check_steps(&ctx, &mut sc.setup, &root.key("setup"), suite, errors);
    check_steps(&ctx, &mut sc.steps, &root.key("steps"), suite, errors);
    check_steps(&ctx, &mut sc.teardown, &root.key("teardown"), suite, errors);
}

fn check_steps(
    ctx: &Ctx,
    steps: &mut [Step],
    path: &YamlPath,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        check_step(ctx, step, &path.index(i), suite, errors);
    }
}

fn check_step(
    ctx: &Ctx,
    step: &mut Step,
    path: &YamlPath,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    let kinds = step.kinds();
    match kinds.as_slice() {
        [] => {
            errors.push(ctx.err(
                path,
                format!(
                    "step `{}` has no kind: expected exactly one of `request`, `poll`, `parallel`, `for_each`, `use`, `matrix`",
                    step.name
                ),
            ));
            return;
        }
        [_] => {}
        [first, second, ..] => {
            let key = match second {
                StepKind::Use => "use",
                k => k.as_str(),
            };
            errors.push(ctx.err_key(
                &path.key(key),
                format!(
                    "step `{}` has two kinds, `{}` and `{}`: a step has exactly one",
                    step.name,
                    first.as_str(),
                    second.as_str()
                ),
            ));
            return;
        }
    }
    let kind = kinds[0];
    if step.expect.is_some() && kind != StepKind::Request {
        errors.push(ctx.err_key(
            &path.key("expect"),
            format!(
                "`expect` belongs to a `request` step (this is a `{}` step; polls use `until`)",
                kind.as_str()
            ),
        ));
    }
    if step.capture.is_some() && !matches!(kind, StepKind::Request | StepKind::Poll) {
        errors.push(ctx.err_key(
            &path.key("capture"),
            format!(
                "`capture` belongs to a `request` or `poll` step, not `{}`",
                kind.as_str()
            ),
        ));
    }
    if step.with.is_some() && kind != StepKind::Use {
        errors.push(ctx.err_key(&path.key("with"), "`with` belongs to a `use` step"));
    }
    if let Some(c) = &step.capture {
        check_captures(ctx, c, &path.key("capture"), errors);
    }
    if let Some(r) = &step.request {
        check_request(ctx, r, &path.key("request"), errors);
    }
    if let Some(e) = step.expect.as_mut() {
        check_expect(ctx, e, &path.key("expect"), errors);
    }
    if let Some(p) = step.poll.as_mut() {
        let pp = path.key("poll");
        check_request(ctx, &p.request, &pp.key("request"), errors);
        check_expect(ctx, &mut p.until, &pp.key("until"), errors);
        if let Some(f) = p.fail_fast.as_mut() {
            check_expect(ctx, f, &pp.key("fail_fast"), errors);
        }
        if p.interval.is_some_and(|d| d.0.is_zero()) {
            errors.push(ctx.err(&pp.key("interval"), "`interval` must be more than 0"));
        }
        if let Some(t) = &p.track {
            if let Err(e) = parse_json_path(t) {
                errors.push(ctx.err(&pp.key("track"), e));
            }
        }
        if p.state_machine.is_some() && p.track.is_none() {
            errors.push(ctx.err_key(
                &pp.key("state_machine"),
                "`state_machine` needs `track` (the JSONPath of the state)",
            ));
        }
        for (i, m) in p.monotonic.iter().enumerate() {
            if let Err(e) = parse_json_path(m) {
                errors.push(ctx.err(&pp.key("monotonic").index(i), e));
            }
        }
        if let Some(o) = &p.order {
            if let Err(e) = parse_json_path(&o.path) {
                errors.push(ctx.err(&pp.key("order").key("path"), e));
            }
        }
    }
    if let Some(par) = step.parallel.as_mut() {
        let pp = path.key("parallel");
        if par.copies == 0 || par.copies > 10_000 {
            errors.push(ctx.err(&pp.key("copies"), "`copies` must be between 1 and 10000"));
        }
        check_steps(ctx, &mut par.steps, &pp.key("steps"), suite, errors);
        let captured: BTreeSet<String> = captures_of(&par.steps, suite).into_iter().collect();
        if let Some(e) = &par.expect {
            for (key, list) in [("distinct", &e.distinct), ("same", &e.same)] {
                for (i, name) in list.iter().enumerate() {
                    if !captured.contains(name) {
                        errors.push(ctx.err(
                            &pp.key("expect").key(key).index(i),
                            format!("`{name}` is not captured by the parallel steps"),
                        ));
                    }
                }
            }
            if let (Some(min), Some(max)) = (e.min_passed, e.max_passed) {
                if min > max {
                    errors.push(ctx.err_key(
                        &pp.key("expect").key("min_passed"),
                        "`min_passed` is greater than `max_passed`",
                    ));
                }
            }
        }
        for (name, cap) in &par.collect {
            if !captured.contains(cap) {
                errors.push(ctx.err(
                    &pp.key("collect").key(name),
                    format!("`{cap}` is not captured by the parallel steps"),
                ));
            }
            if !is_var_name(name) {
                errors.push(ctx.err_key(
                    &pp.key("collect").key(name),
                    format!("invalid variable name `{name}`"),
                ));
            }
        }
    }
    if let Some(fe) = step.for_each.as_mut() {
        let fp = path.key("for_each");
        match (&fe.items, &fe.items_file) {
            (Some(_), Some(_)) => errors.push(ctx.err_key(
                &fp.key("items_file"),
                "give `items` or `items_file`, not both",
            )),
            (None, None) => errors.push(ctx.err(&fp, "`for_each` needs `items` or `items_file`")),
            (None, Some(f)) => {
                let full = ctx.dir.join(f);
                match std::fs::read_to_string(&full) {
                    Ok(text) => match serde_yaml_ng::from_str::<Vec<Value>>(&text) {
                        Ok(items) => fe.items = Some(items),
                        Err(e) => errors.push(ctx.err(
                            &fp.key("items_file"),
                            format!(
                                "items_file `{}` is not a YAML/JSON list: {}",
                                full.display(),
                                ParseError::from_yaml(&full.display().to_string(), &e)
                            ),
                        )),
                    },
                    Err(e) => errors.push(ctx.err(
                        &fp.key("items_file"),
                        format!("cannot read items_file `{}`: {e}", full.display()),
                    )),
                }
            }
            (Some(_), None) => {}
        }
        if let Some(v) = &fe.var {
            if !is_var_name(v) {
                errors.push(ctx.err(&fp.key("var"), format!("invalid variable name `{v}`")));
            }
        }
        check_steps(ctx, &mut fe.steps, &fp.key("steps"), suite, errors);
    }
    if let Some(name) = &step.use_template {
        match suite.templates.get(name) {
            None => {
                let mut known = suite.template_names();
                known.truncate(20);
                errors.push(ctx.err(
                    &path.key("use"),
                    format!(
                        "unknown template `{name}`{}",
                        if known.is_empty() {
                            " (no library templates were found: libraries live in `lib/` under the suite root)".to_string()
                        } else {
                            format!(" (known: {})", known.join(", "))
                        }
                    ),
                ))
            }
            Some(t) => {
                let given: BTreeSet<&String> = step.with.iter().flat_map(|w| w.keys()).collect();
                for p in &t.template.params {
                    if !given.contains(p) {
                        errors.push(ctx.err(
                            &path.key("use"),
                            format!("template `{name}` needs parameter `{p}` (give it in `with`)"),
                        ));
                    }
                }
                for g in given {
                    if !t.template.params.contains(g) {
                        errors.push(ctx.err_key(
                            &path.key("with").key(g),
                            format!(
                                "template `{name}` has no parameter `{g}` (params: {})",
                                t.template.params.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    if let Some(m) = step.matrix.as_mut() {
        let mp = path.key("matrix");
        if m.owners.is_empty() {
            errors.push(ctx.err(&mp.key("owners"), "`owners` is empty"));
        }
        if m.intruders.is_empty() {
            errors.push(ctx.err(&mp.key("intruders"), "`intruders` is empty"));
        }
        if m.attempts.is_empty() {
            errors.push(ctx.err(&mp.key("attempts"), "`attempts` is empty"));
        }
        check_request(
            ctx,
            &m.create.request,
            &mp.key("create").key("request"),
            errors,
        );
        if let Some(e) = m.create.expect.as_mut() {
            check_expect(ctx, e, &mp.key("create").key("expect"), errors);
        }
        if let Some(c) = &m.create.capture {
            check_captures(ctx, c, &mp.key("create").key("capture"), errors);
        }
        for (i, mk) in m.markers.iter().enumerate() {
            if let Err(e) = parse_json_path(mk) {
                errors.push(ctx.err(&mp.key("markers").index(i), e));
            }
        }
        for (i, a) in m.attempts.iter().enumerate() {
            check_request(
                ctx,
                &a.request,
                &mp.key("attempts").index(i).key("request"),
                errors,
            );
        }
        check_expect(ctx, &mut m.denied, &mp.key("denied"), errors);
        for key in ["list", "verify"] {
            let r = if key == "list" {
                m.list.as_mut()
            } else {
                m.verify.as_mut()
            };
            if let Some(r) = r {
                check_request(ctx, &r.request, &mp.key(key).key("request"), errors);
                if let Some(e) = r.expect.as_mut() {
                    check_expect(ctx, e, &mp.key(key).key("expect"), errors);
                }
                if r.capture.is_some() {
                    errors.push(ctx.err_key(
                        &mp.key(key).key("capture"),
                        format!("`capture` is not allowed in matrix `{key}`"),
                    ));
                }
            }
        }
    }
}

fn check_captures(
    ctx: &Ctx,
    c: &BTreeMap<String, CaptureSpec>,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    for (name, spec) in c {
        if !is_var_name(name) {
            errors.push(ctx.err_key(&path.key(name), format!("invalid variable name `{name}`")));
        }
        if BUILTINS.contains(&name.as_str()) {
            errors.push(ctx.err_key(
                &path.key(name),
                format!("`{name}` is a built-in variable and cannot be captured"),
            ));
        }
        if let CaptureSpec::Json(p) = spec {
            if let Err(e) = parse_json_path(p) {
                errors.push(ctx.err(&path.key(name), e));
            }
        }
    }
}

fn check_request(ctx: &Ctx, r: &RequestSpec, path: &YamlPath, errors: &mut Vec<ParseError>) {
    let bodies = [r.json.is_some(), r.body.is_some(), r.body_size.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if bodies > 1 {
        errors.push(ctx.err(path, "give one of `json`, `body`, `body_size`, not several"));
    }
    if r.body_size.is_some_and(|n| n > 256 * 1024 * 1024) {
        errors.push(ctx.err(&path.key("body_size"), "`body_size` is limited to 256 MiB"));
    }
}

/// regex's syntax errors span several lines (with a caret); keep the last, the reason.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

fn check_assertion_value(ctx: &Ctx, v: &Value, path: &YamlPath, errors: &mut Vec<ParseError>) {
    match operators_of(v) {
        Ok(ops) => {
            if let Some(re) = &ops.matches {
                if !re.contains("{{") {
                    if let Err(e) = regex::Regex::new(re) {
                        errors.push(ctx.err(
                            &path.key("matches"),
                            format!("invalid regex `{re}`: {}", regex_error(&e)),
                        ));
                    }
                }
            }
            if let Value::Object(m) = v {
                if m.is_empty() {
                    errors.push(ctx.err(path, "an empty assertion object checks nothing"));
                }
            }
        }
        Err(e) => {
            // Point at the offending key when we can tell which.
            let mut at = path.clone();
            if let Value::Object(m) = v {
                for k in m.keys() {
                    if e.contains(&format!("`{k}`")) {
                        at = path.key(k);
                        break;
                    }
                }
            }
            errors.push(ctx.err_key(&at, e));
        }
    }
}

fn check_expect(ctx: &Ctx, e: &mut Expect, path: &YamlPath, errors: &mut Vec<ParseError>) {
    if let Some(StatusSpec::Template(t)) = &e.status {
        if !t.contains("{{") {
            errors.push(ctx.err(
                &path.key("status"),
                format!(
                    "status `{t}` is not a number, a list of numbers, or a `{{{{ variable }}}}`"
                ),
            ));
        }
    }
    for (name, v) in &e.headers {
        check_assertion_value(ctx, v, &path.key("headers").key(name), errors);
    }
    for (jp, v) in &e.json {
        let p = path.key("json").key(jp);
        if let Err(msg) = parse_json_path(jp) {
            errors.push(ctx.err_key(&p, msg));
        }
        check_assertion_value(ctx, v, &p, errors);
    }
    if let Some(b) = &e.body {
        check_assertion_value(ctx, b, &path.key("body"), errors);
    }
    if let Some(schema) = e.schema.take() {
        let p = path.key("schema");
        let resolved = match schema {
            Value::String(file) => {
                let full = ctx.dir.join(&file);
                match std::fs::read_to_string(&full) {
                    Ok(text) => match serde_yaml_ng::from_str::<Value>(&text) {
                        Ok(v) => Some(v),
                        Err(err) => {
                            errors.push(ctx.err(
                                &p,
                                format!("schema file `{}` is not JSON/YAML: {err}", full.display()),
                            ));
                            None
                        }
                    },
                    Err(err) => {
                        errors.push(ctx.err(
                            &p,
                            format!("cannot read schema file `{}`: {err}", full.display()),
                        ));
                        None
                    }
                }
            }
            v @ Value::Object(_) => Some(v),
            _ => {
                errors.push(ctx.err(
                    &p,
                    "`schema` is a file path or an inline JSON Schema object",
                ));
                None
            }
        };
        if let Some(v) = &resolved {
            if let Err(err) = jsonschema::validator_for(v) {
                errors.push(ctx.err(&p, format!("invalid JSON Schema: {err}")));
            }
        }
        e.schema = resolved;
    }
}

/// The variable names a list of steps captures (visible to the steps after them).
pub(crate) fn captures_of(steps: &[Step], suite: &Suite) -> Vec<String> {
    let mut out = Vec::new();
    captures_into(steps, suite, &mut out, 0);
    out
}

fn captures_into(steps: &[Step], suite: &Suite, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    for s in steps {
        if let Some(c) = &s.capture {
            out.extend(c.keys().cloned());
        }
        if let Some(p) = &s.parallel {
            out.extend(p.collect.keys().cloned());
        }
        if let Some(name) = &s.use_template {
            if let Some(t) = suite.template(name) {
                captures_into(&t.steps, suite, out, depth + 1);
            }
        }
    }
}

// ---- names against a profile ----

struct NameCtx<'a> {
    profile: &'a Profile,
    suite: &'a Suite,
}

type Scope = BTreeSet<String>;

fn suggest(name: &str, scope: &Scope) -> String {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j + 1] + 1)
                    .min(cur[j] + 1)
                    .min(prev[j] + usize::from(ca != *cb));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    scope
        .iter()
        .map(|s| (distance(name, s), s))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, s)| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn check_placeholder_list(
    ctx: &Ctx,
    found: Vec<Result<Placeholder, String>>,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    for p in found {
        match p {
            Ok(p) => {
                if !scope.contains(p.root()) {
                    errors.push(ctx.err(
                        path,
                        format!(
                            "undefined variable `{}`{}",
                            p.root(),
                            suggest(p.root(), scope)
                        ),
                    ));
                }
            }
            Err(e) => errors.push(ctx.err(path, e)),
        }
    }
}

fn check_str(ctx: &Ctx, s: &str, scope: &Scope, path: &YamlPath, errors: &mut Vec<ParseError>) {
    let found = match placeholders(s) {
        Ok(ps) => ps.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e)],
    };
    check_placeholder_list(ctx, found, scope, path, errors);
}

fn check_value(ctx: &Ctx, v: &Value, scope: &Scope, path: &YamlPath, errors: &mut Vec<ParseError>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                check_str(ctx, k, scope, &path.key(k), errors);
                check_value(ctx, item, scope, &path.key(k), errors);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_value(ctx, item, scope, &path.index(i), errors);
            }
        }
        other => {
            let mut found = Vec::new();
            value_placeholders(other, &mut found);
            check_placeholder_list(ctx, found, scope, path, errors);
        }
    }
}

fn check_identity(
    ctx: &Ctx,
    nc: &NameCtx,
    name: &str,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    if !nc.profile.spec.identities.contains_key(name) {
        let known: Scope = nc.profile.spec.identities.keys().cloned().collect();
        errors.push(ctx.err(
            path,
            format!(
                "unknown identity `{name}`{} (profile `{}` defines: {})",
                suggest(name, &known),
                nc.profile.spec.name,
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
}

fn check_names(s: &SuiteScenario, profile: &Profile, suite: &Suite, errors: &mut Vec<ParseError>) {
    let dir = Path::new(&s.file)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let ctx = Ctx {
        file: &s.file,
        index: &s.index,
        dir: &dir,
    };
    let nc = NameCtx { profile, suite };
    let root = YamlPath::default();
    let mut scope: Scope = BUILTINS.iter().map(|s| s.to_string()).collect();
    scope.extend(profile.spec.variables.keys().cloned());
    for (k, v) in &s.scenario.variables {
        check_value(&ctx, v, &scope, &root.key("variables").key(k), errors);
        scope.insert(k.clone());
    }
    if let Some(load) = &s.scenario.load {
        for (i, ident) in load.identities.iter().enumerate() {
            check_identity(
                &ctx,
                &nc,
                ident,
                &root.key("load").key("identities").index(i),
                errors,
            );
        }
        for (ti, tx) in load.transactions.iter().enumerate() {
            let mut tx_scope = scope.clone();
            names_in_steps(
                &ctx,
                &nc,
                &tx.steps,
                &mut tx_scope,
                &root.key("load").key("transactions").index(ti).key("steps"),
                errors,
                0,
            );
        }
    }
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.setup,
        &mut scope,
        &root.key("setup"),
        errors,
        0,
    );
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.steps,
        &mut scope,
        &root.key("steps"),
        errors,
        0,
    );
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.teardown,
        &mut scope,
        &root.key("teardown"),
        errors,
        0,
    );
}

fn names_in_request(
    ctx: &Ctx,
    r: &RequestSpec,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    check_str(ctx, &r.path, scope, &path.key("path"), errors);
    for (k, v) in &r.query {
        check_str(ctx, k, scope, &path.key("query").key(k), errors);
        check_value(ctx, v, scope, &path.key("query").key(k), errors);
    }
    for (k, v) in &r.headers {
        if let Some(v) = v {
            check_str(ctx, v, scope, &path.key("headers").key(k), errors);
        }
    }
    if let Some(j) = &r.json {
        check_value(ctx, j, scope, &path.key("json"), errors);
    }
    if let Some(b) = &r.body {
        check_str(ctx, b, scope, &path.key("body"), errors);
    }
    if let Some(c) = &r.content_type {
        check_str(ctx, c, scope, &path.key("content_type"), errors);
    }
}

fn names_in_expect(
    ctx: &Ctx,
    e: &Expect,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    if let Some(StatusSpec::Template(t)) = &e.status {
        check_str(ctx, t, scope, &path.key("status"), errors);
    }
    for (k, v) in &e.headers {
        check_value(ctx, v, scope, &path.key("headers").key(k), errors);
    }
    for (k, v) in &e.json {
        check_str(ctx, k, scope, &path.key("json").key(k), errors);
        check_value(ctx, v, scope, &path.key("json").key(k), errors);
    }
    if let Some(b) = &e.body {
        check_value(ctx, b, scope, &path.key("body"), errors);
    }
}

#[allow(clippy::too_many_arguments)]
fn names_in_steps(
    ctx: &Ctx,
    nc: &NameCtx,
    steps: &[Step],
    scope: &mut Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
    depth: usize,
) {
    if depth > 16 {
        errors.push(ctx.err(
            path,
            "templates nest more than 16 levels deep (a template uses itself?)",
        ));
        return;
    }
    for (i, step) in steps.iter().enumerate() {
        let sp = path.index(i);
        if let Some(id) = &step.identity {
            check_identity(ctx, nc, id, &sp.key("as"), errors);
        }
        if let Some(r) = &step.request {
            names_in_request(ctx, r, scope, &sp.key("request"), errors);
        }
        if let Some(e) = &step.expect {
            names_in_expect(ctx, e, scope, &sp.key("expect"), errors);
        }
        if let Some(p) = &step.poll {
            let pp = sp.key("poll");
            names_in_request(ctx, &p.request, scope, &pp.key("request"), errors);
            names_in_expect(ctx, &p.until, scope, &pp.key("until"), errors);
            if let Some(f) = &p.fail_fast {
                names_in_expect(ctx, f, scope, &pp.key("fail_fast"), errors);
            }
            if let Some(sm) = &p.state_machine {
                if !nc.profile.spec.state_machines.contains_key(sm) {
                    errors.push(ctx.err(
                        &pp.key("state_machine"),
                        format!(
                                "unknown state machine `{sm}` (profile `{}` defines: {})",
                                nc.profile.spec.name,
                                nc.profile
                                    .spec
                                    .state_machines
                                    .keys()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                    ));
                }
            }
        }
        if let Some(par) = &step.parallel {
            let mut inner = scope.clone();
            inner.insert("copy".into());
            names_in_steps(
                ctx,
                nc,
                &par.steps,
                &mut inner,
                &sp.key("parallel").key("steps"),
                errors,
                depth,
            );
        }
        if let Some(fe) = &step.for_each {
            let fp = sp.key("for_each");
            if let Some(items) = &fe.items {
                if fe.items_file.is_none() {
                    check_value(
                        ctx,
                        &Value::Array(items.clone()),
                        scope,
                        &fp.key("items"),
                        errors,
                    );
                }
            }
            let mut inner = scope.clone();
            inner.insert(fe.var.clone().unwrap_or_else(|| "item".into()));
            inner.insert("index".into());
            names_in_steps(
                ctx,
                nc,
                &fe.steps,
                &mut inner,
                &fp.key("steps"),
                errors,
                depth,
            );
        }
        if let Some(name) = &step.use_template {
            if let Some(w) = &step.with {
                for (k, v) in w {
                    check_value(ctx, v, scope, &sp.key("with").key(k), errors);
                }
            }
            if let Some(t) = nc.suite.templates.get(name) {
                let tdir = Path::new(&t.file)
                    .parent()
                    .unwrap_or(Path::new("."))
                    .to_path_buf();
                let tctx = Ctx {
                    file: &t.file,
                    index: &t.index,
                    dir: &tdir,
                };
                let mut inner = scope.clone();
                inner.extend(t.template.params.iter().cloned());
                names_in_steps(
                    &tctx,
                    nc,
                    &t.template.steps,
                    &mut inner,
                    &t.path.key("steps"),
                    errors,
                    depth + 1,
                );
                scope.extend(captures_of(&t.template.steps, nc.suite));
            }
        }
        if let Some(m) = &step.matrix {
            let mp = sp.key("matrix");
            for (i, o) in m.owners.iter().enumerate() {
                check_identity(ctx, nc, o, &mp.key("owners").index(i), errors);
            }
            for (i, o) in m.intruders.iter().enumerate() {
                check_identity(ctx, nc, o, &mp.key("intruders").index(i), errors);
            }
            let mut inner = scope.clone();
            inner.insert("owner".into());
            inner.insert("intruder".into());
            names_in_request(
                ctx,
                &m.create.request,
                &inner,
                &mp.key("create").key("request"),
                errors,
            );
            if let Some(e) = &m.create.expect {
                names_in_expect(ctx, e, &inner, &mp.key("create").key("expect"), errors);
            }
            if let Some(c) = &m.create.capture {
                inner.extend(c.keys().cloned());
            }
            for (i, a) in m.attempts.iter().enumerate() {
                names_in_request(
                    ctx,
                    &a.request,
                    &inner,
                    &mp.key("attempts").index(i).key("request"),
                    errors,
                );
            }
            names_in_expect(ctx, &m.denied, &inner, &mp.key("denied"), errors);
            for (key, r) in [("list", &m.list), ("verify", &m.verify)] {
                if let Some(r) = r {
                    names_in_request(ctx, &r.request, &inner, &mp.key(key).key("request"), errors);
                    if let Some(e) = &r.expect {
                        names_in_expect(ctx, e, &inner, &mp.key(key).key("expect"), errors);
                    }
                }
            }
        }
        // Captures become visible to the following steps.
        if let Some(c) = &step.capture {
            scope.extend(c.keys().cloned());
        }
        if let Some(par) = &step.parallel {
            scope.extend(par.collect.keys().cloned());
        }
    }
}
