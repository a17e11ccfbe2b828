//! Target profiles: loading, `${env:…}`/`${secret:…}` expansion, and the helpers a run
//! needs (URLs, identity headers, timeouts).

use crate::interp::{expand_env, EnvSource, Masker};
use crate::spec::errors::{ParseError, ParseErrors};
use crate::spec::locate::{PosIndex, YamlPath};
use crate::spec::model::ProfileSpec;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// A loaded target profile: environment references expanded, secrets collected.
#[derive(Debug, Clone)]
pub struct Profile {
    pub spec: ProfileSpec,
    /// Masks every `${secret:…}` value; applied to everything that leaves the harness.
    pub masker: Masker,
    /// The file it came from (for messages).
    pub file: String,
}

impl Profile {
    /// Reads and expands a profile file. `env` supplies `${env:…}` and `${secret:…}`.
    pub fn read(path: &Path, env: &dyn EnvSource) -> Result<Profile, ParseErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ParseError::unplaced(&file, format!("cannot read the profile: {e}")))?;
        Profile::parse(&text, &file, env)
    }

    /// Parses a profile from text; `file` names it in messages.
    pub fn parse(text: &str, file: &str, env: &dyn EnvSource) -> Result<Profile, ParseErrors> {
        let mut spec: ProfileSpec =
            serde_yaml_ng::from_str(text).map_err(|e| ParseError::from_yaml(file, &e))?;
        let index = PosIndex::build(text);
        let mut secrets = BTreeSet::new();
        let mut errors = Vec::new();
        let root = YamlPath::default();
        let mut expand =
            |s: &mut String, path: YamlPath, errors: &mut Vec<ParseError>| match expand_env(
                s,
                env,
                &mut secrets,
            ) {
                Ok(v) => *s = v,
                Err(msg) => errors.push(ParseError::at(file, &index, &path, false, msg)),
            };
        expand(&mut spec.base_url, root.key("base_url"), &mut errors);
        if let Some(h) = spec.health_path.as_mut() {
            expand(h, root.key("health_path"), &mut errors);
        }
        for (name, ident) in spec.identities.iter_mut() {
            for (h, v) in ident.headers.iter_mut() {
                expand(
                    v,
                    root.key("identities").key(name).key("headers").key(h),
                    &mut errors,
                );
            }
        }
        fn walk(
            v: &mut Value,
            path: YamlPath,
            expand: &mut dyn FnMut(&mut String, YamlPath, &mut Vec<ParseError>),
            errors: &mut Vec<ParseError>,
        ) {
            match v {
                Value::String(s) => expand(s, path, errors),
                Value::Array(items) => {
                    for (i, item) in items.iter_mut().enumerate() {
                        walk(item, path.index(i), expand, errors);
                    }
                }
                Value::Object(map) => {
                    for (k, item) in map.iter_mut() {
                        walk(item, path.key(k), expand, errors);
                    }
                }
                _ => {}
            }
        }
        for (k, v) in spec.variables.iter_mut() {
            walk(v, root.key("variables").key(k), &mut expand, &mut errors);
        }

        if let Err(e) = reqwest::Url::parse(&spec.base_url) {
            errors.push(ParseError::at(
                file,
                &index,
                &root.key("base_url"),
                false,
                format!("base_url `{}` is not a URL: {e}", spec.base_url),
            ));
        }
        if let Some(d) = &spec.default_identity {
            if !spec.identities.contains_key(d) {
                errors.push(ParseError::at(
                    file,
                    &index,
                    &root.key("default_identity"),
                    false,
                    format!(
                        "unknown identity `{d}` (defined: {})",
                        spec.identities
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        for (name, sm) in &spec.state_machines {
            let terminal_with = |key: &str, state: &str, msg: String| {
                let at = root.key("state_machines").key(name).key(key).key(state);
                ParseError::at(file, &index, &at, true, msg)
            };
            for state in sm.max_dwell.keys().filter(|s| sm.terminal.contains(s)) {
                errors.push(terminal_with(
                    "max_dwell",
                    state,
                    format!("terminal state `{state}` lasts for ever: it cannot have a max_dwell"),
                ));
            }
            for state in sm.transitions.keys().filter(|s| sm.terminal.contains(s)) {
                errors.push(terminal_with(
                    "transitions",
                    state,
                    format!("terminal state `{state}` cannot have transitions"),
                ));
            }
        }
        if let Some(props) = &spec.properties {
            let at = |path: crate::spec::locate::YamlPath, msg: String| {
                ParseError::at(file, &index, &path, false, msg)
            };
            let props_key = || root.key("properties");
            if let Some(m) = &props.state_machine {
                if !spec.state_machines.contains_key(m) {
                    errors.push(at(
                        props_key().key("state_machine"),
                        format!(
                            "unknown state machine `{m}` (state_machines defines: {})",
                            spec.state_machines
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            for identity in props
                .scopes
                .keys()
                .filter(|i| !spec.identities.contains_key(*i))
            {
                errors.push(at(
                    props_key().key("scopes").key(identity),
                    format!("unknown identity `{identity}`"),
                ));
            }
            for (i, v) in props.views.iter().enumerate() {
                let here = || props_key().key("views").index(i);
                if v.request.trim().split_once(' ').is_none() {
                    errors.push(at(
                        here().key("request"),
                        format!("`{}`: expected `METHOD /path`", v.request),
                    ));
                }
                for (key, path) in [
                    ("id", Some(&v.id)),
                    ("items", v.items.as_ref()),
                    ("status", v.status.as_ref()),
                    ("progress", v.progress.as_ref()),
                ] {
                    if let Some(path) = path {
                        if let Err(e) = serde_json_path::JsonPath::parse(path) {
                            errors.push(at(
                                here().key(key),
                                format!("`{path}` is not a JSONPath: {e}"),
                            ));
                        }
                    }
                }
            }
            for (i, a) in props.aggregates.iter().enumerate() {
                let here = || props_key().key("aggregates").index(i);
                if let Err(e) = parse_operation(&a.request) {
                    errors.push(at(here().key("request"), e));
                }
                if let Err(e) = serde_json_path::JsonPath::parse(&a.count) {
                    errors.push(at(
                        here().key("count"),
                        format!("`{}` is not a JSONPath: {e}", a.count),
                    ));
                }
            }
            for (i, r) in props.restarts.iter().enumerate() {
                if r.trim().split_once(' ').is_none() {
                    errors.push(at(
                        props_key().key("restarts").index(i),
                        format!("`{r}`: expected `METHOD /path/{{id}}`"),
                    ));
                }
            }
        }
        if let Some(explore) = &spec.explore {
            let at = |path: crate::spec::locate::YamlPath, msg: String| {
                ParseError::at(file, &index, &path, false, msg)
            };
            errors.extend(crate::explore::spec_errors(
                &spec,
                explore,
                &root.key("explore"),
                &at,
            ));
        }
        if !errors.is_empty() {
            return Err(ParseErrors(errors));
        }
        Ok(Profile {
            spec,
            masker: Masker::new(secrets),
            file: file.to_string(),
        })
    }

    /// Joins a path to the base URL; an absolute URL is kept as it is.
    pub fn url_for(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        let base = self.spec.base_url.trim_end_matches('/');
        if path.is_empty() {
            base.to_string()
        } else if path.starts_with('/') {
            format!("{base}{path}")
        } else {
            format!("{base}/{path}")
        }
    }

    /// Default timeout of one request (10 s unless the profile says).
    pub fn request_timeout(&self) -> Duration {
        self.spec
            .timeouts
            .request
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(10))
    }

    /// Default timeout of a poll (30 s unless the profile says).
    pub fn poll_timeout(&self) -> Duration {
        self.spec
            .timeouts
            .poll
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(30))
    }

    /// Most re-sends of a request answered 429, most time one request may wait, and
    /// most time a whole run may wait (`throttling`; 20, 60 s and 5 min unless the
    /// profile says).
    pub fn throttling(&self) -> (u32, Duration, Duration) {
        let t = &self.spec.throttling;
        let or = |d: Option<crate::spec::model::Dur>, default| d.map_or(default, |d| d.0);
        (
            t.retries.unwrap_or(20),
            or(t.max_wait, Duration::from_secs(60)),
            or(t.max_total_wait, Duration::from_secs(300)),
        )
    }

    /// The URL probed for reachability and readiness: `health_path`, else `base_url`.
    pub fn health_url(&self) -> String {
        match &self.spec.health_path {
            Some(p) => self.url_for(p),
            None => self.spec.base_url.clone(),
        }
    }
}

/// `POST /api/v1/flows` → (`POST`, `/api/v1/flows`): an operation as a profile names it.
pub(crate) fn parse_operation(text: &str) -> Result<(reqwest::Method, String), String> {
    let mut parts = text.split_whitespace();
    let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "expected `METHOD /path` (e.g. `DELETE /api/v1/flows/{{id}}`), found `{text}`"
        ));
    };
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{method}` is not an HTTP method"))?;
    if !path.starts_with('/') || path.contains('?') {
        return Err(format!(
            "`{path}`: expected a path that starts with `/`, without a query"
        ));
    }
    Ok((method, path.to_string()))
}
