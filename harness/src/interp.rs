//! Variables and `{{ }}` interpolation; `${env:…}` / `${secret:…}` expansion for profiles;
//! the secret masker.

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// Names every scenario can use without defining them.
pub const BUILTINS: &[&str] = &["uuid", "run_id", "scenario_id", "now"];

fn placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([A-Za-z_]+)\s*)?\}\}").unwrap_or_else(|_| {
            // The pattern is a constant; this branch is unreachable in practice.
            Regex::new("$^").unwrap_or_else(|_| unreachable!())
        })
    })
}

/// One `{{ … }}` occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// Full dotted name, e.g. `flow.name`.
    pub name: String,
    pub filter: Option<String>,
}

impl Placeholder {
    /// The variable the name starts with (`flow` in `flow.name`).
    pub fn root(&self) -> &str {
        self.name.split('.').next().unwrap_or("")
    }
}

/// Placeholders in a string, in order; `Err` names a malformed one.
pub(crate) fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    for cap in placeholder_re().captures_iter(text) {
        let name = cap.get(1).map(|m| m.as_str()).unwrap_or("").to_string();
        let filter = cap.get(2).map(|m| m.as_str().to_string());
        if name.is_empty()
            || !name.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            })
        {
            return Err(format!("malformed placeholder `{}`", &cap[0]));
        }
        if let Some(f) = &filter {
            if f != "json" && f != "len" {
                return Err(format!(
                    "unknown filter `{f}` in `{}` (known: json, len)",
                    &cap[0]
                ));
            }
        }
        out.push(Placeholder { name, filter });
    }
    Ok(out)
}

/// Placeholders found in every string of a JSON value (keys included).
pub(crate) fn value_placeholders(v: &Value, out: &mut Vec<Result<Placeholder, String>>) {
    fn push(s: &str, out: &mut Vec<Result<Placeholder, String>>) {
        match placeholders(s) {
            Ok(ps) => out.extend(ps.into_iter().map(Ok)),
            Err(e) => out.push(Err(e)),
        }
    }
    match v {
        Value::String(s) => push(s, out),
        Value::Array(items) => {
            for i in items {
                value_placeholders(i, out);
            }
        }
        Value::Object(map) => {
            for (k, i) in map {
                push(k, out);
                value_placeholders(i, out);
            }
        }
        _ => {}
    }
}

/// The variables visible to a step: name → JSON value. Built-ins are computed on use.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: HashMap<String, Value>,
    run_id: String,
    scenario_id: String,
}

/// An interpolation that could not be done (undefined name at run time, bad filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpError(pub String);

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Vars {
    /// Empty variables for one scenario of one run.
    pub fn new(run_id: impl Into<String>, scenario_id: impl Into<String>) -> Vars {
        Vars {
            values: HashMap::new(),
            run_id: run_id.into(),
            scenario_id: scenario_id.into(),
        }
    }

    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Value of a dotted name (`flow.name`, `items.0`), built-ins included.
    pub fn lookup(&self, dotted: &str) -> Option<Value> {
        let mut parts = dotted.split('.');
        let root = parts.next()?;
        let mut current = match root {
            "uuid" if !self.values.contains_key("uuid") => {
                return Some(Value::String(uuid::Uuid::new_v4().to_string()))
            }
            "run_id" if !self.values.contains_key("run_id") => {
                return Some(Value::String(self.run_id.clone()))
            }
            "scenario_id" if !self.values.contains_key("scenario_id") => {
                return Some(Value::String(self.scenario_id.clone()))
            }
            "now" if !self.values.contains_key("now") => {
                return Some(Value::String(chrono::Utc::now().to_rfc3339()))
            }
            _ => self.values.get(root)?.clone(),
        };
        for part in parts {
            current = match current {
                Value::Object(mut m) => m.remove(part)?,
                Value::Array(mut a) => {
                    let i: usize = part.parse().ok()?;
                    if i < a.len() {
                        a.swap_remove(i)
                    } else {
                        return None;
                    }
                }
                _ => return None,
            };
        }
        Some(current)
    }

    fn resolve(&self, p: &Placeholder) -> Result<Value, InterpError> {
        let v = self
            .lookup(&p.name)
            .ok_or_else(|| InterpError(format!("undefined variable `{}`", p.name)))?;
        Ok(match p.filter.as_deref() {
            None => v,
            Some("json") => Value::String(v.to_string()),
            Some("len") => {
                let n = match &v {
                    Value::String(s) => s.chars().count(),
                    Value::Array(a) => a.len(),
                    Value::Object(o) => o.len(),
                    other => {
                        return Err(InterpError(format!(
                            "`{} | len`: {} has no length",
                            p.name,
                            type_name(other)
                        )))
                    }
                };
                Value::from(n)
            }
            Some(f) => return Err(InterpError(format!("unknown filter `{f}`"))),
        })
    }

    /// Interpolates a string; every placeholder becomes text.
    pub fn interpolate(&self, text: &str) -> Result<String, InterpError> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for cap in placeholder_re().captures_iter(text) {
            let m = cap
                .get(0)
                .ok_or_else(|| InterpError("bad placeholder".into()))?;
            let ps = placeholders(m.as_str()).map_err(InterpError)?;
            let p = ps
                .into_iter()
                .next()
                .ok_or_else(|| InterpError(format!("malformed placeholder `{}`", m.as_str())))?;
            out.push_str(&text[last..m.start()]);
            out.push_str(&value_text(&self.resolve(&p)?));
            last = m.end();
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    /// Interpolates every string of a value. A string that is exactly one placeholder
    /// keeps the variable's JSON type.
    pub fn interpolate_value(&self, v: &Value) -> Result<Value, InterpError> {
        Ok(match v {
            Value::String(s) => {
                let trimmed = s.trim();
                if let Some(m) = placeholder_re().find(trimmed) {
                    if m.start() == 0 && m.end() == trimmed.len() {
                        let ps = placeholders(trimmed).map_err(InterpError)?;
                        if let Some(p) = ps.into_iter().next() {
                            return self.resolve(&p);
                        }
                    }
                }
                Value::String(self.interpolate(s)?)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.interpolate_value(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, i) in map {
                    out.insert(self.interpolate(k)?, self.interpolate_value(i)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// A value as text: strings raw, everything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where `${env:NAME}` and `${secret:NAME}` take their values. The process environment
/// by default; `flowgate validate` supplies its own (the tenants it provisioned) without
/// touching the process environment.
pub trait EnvSource: Send + Sync {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of values, falling back to nothing.
#[derive(Debug, Clone, Default)]
pub struct EnvMap(pub HashMap<String, String>);

impl EnvSource for EnvMap {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Values first, then the process environment.
/// Stand-in values for every variable: lets a profile be read, and a suite checked
/// against it, before the target exists (names ending in `BASE_URL` get an unroutable
/// loopback URL, the rest `placeholder-<name>`).
pub struct PlaceholderEnv;

impl EnvSource for PlaceholderEnv {
    fn get(&self, name: &str) -> Option<String> {
        Some(if name.ends_with("BASE_URL") {
            "http://127.0.0.1:9".to_string()
        } else {
            format!("placeholder-{}", name.to_lowercase())
        })
    }
}

pub struct Layered<A, B>(pub A, pub B);

impl<A: EnvSource, B: EnvSource> EnvSource for Layered<A, B> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).or_else(|| self.1.get(name))
    }
}

fn env_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\$\{(env|secret):([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
            .unwrap_or_else(|_| unreachable!())
    })
}

/// Expands `${env:NAME}`, `${env:NAME:-default}` and `${secret:NAME}`; secret values are
/// added to `secrets`.
pub(crate) fn expand_env(
    text: &str,
    env: &dyn EnvSource,
    secrets: &mut BTreeSet<String>,
) -> Result<String, String> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::new();
    let mut last = 0;
    for cap in env_re().captures_iter(text) {
        let Some(m) = cap.get(0) else { continue };
        let kind = &cap[1];
        let name = &cap[2];
        let value = match (env.get(name), cap.get(3)) {
            (Some(v), _) => v,
            (None, Some(default)) => default.as_str().to_string(),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set (needed by `{}`)",
                    m.as_str()
                ))
            }
        };
        if kind == "secret" && !value.is_empty() {
            secrets.insert(value.clone());
        }
        out.push_str(&text[last..m.start()]);
        out.push_str(&value);
        last = m.end();
    }
    out.push_str(&text[last..]);
    if out.contains("${env:") || out.contains("${secret:") {
        // A reference the pattern did not accept (bad name): say so rather than send it.
        if let Some(start) = text.find("${") {
            let rest = &text[start..];
            let end = rest.find('}').map(|i| i + 1).unwrap_or(rest.len());
            if !env_re().is_match(&rest[..end]) {
                return Err(format!("malformed reference `{}`", &rest[..end]));
            }
        }
    }
    Ok(out)
}

/// Replaces every secret value with `***`. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Arc<Vec<String>>,
}

impl Masker {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Masker {
        let mut v: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is masked whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Masker {
            secrets: Arc::new(v),
        }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    pub fn mask_in_place(&self, text: &mut String) {
        if self.secrets.iter().any(|s| text.contains(s.as_str())) {
            *text = self.mask(text);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The secret values (for the reports crate's last-line redaction).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpolates_and_keeps_types() {
        let mut v = Vars::new("run1", "s1");
        v.set("n", json!(3));
        v.set("flow", json!({"name": "x", "ids": [1, 2]}));
        assert_eq!(v.interpolate("a-{{ n }}-{{flow.name}}").unwrap(), "a-3-x");
        assert_eq!(v.interpolate_value(&json!("{{ n }}")).unwrap(), json!(3));
        assert_eq!(v.interpolate("{{ flow.ids | len }}").unwrap(), "2");
        assert_eq!(
            v.interpolate("{{ flow | json }}").unwrap(),
            r#"{"name":"x","ids":[1,2]}"#
        );
        assert_eq!(v.interpolate("{{ run_id }}").unwrap(), "run1");
        assert!(v.interpolate("{{ nope }}").is_err());
        assert_ne!(
            v.interpolate("{{ uuid }}").unwrap(),
            v.interpolate("{{ uuid }}").unwrap()
        );
    }

    #[test]
    fn expands_env_and_collects_secrets() {
        let env = EnvMap(HashMap::from([("K".to_string(), "s3cr3t".to_string())]));
        let mut secrets = BTreeSet::new();
        assert_eq!(
            expand_env(
                "Bearer ${secret:K} ${env:MISSING:-dflt}",
                &env,
                &mut secrets
            )
            .unwrap(),
            "Bearer s3cr3t dflt"
        );
        assert!(secrets.contains("s3cr3t"));
        assert!(expand_env("${env:MISSING}", &env, &mut secrets).is_err());
        let m = Masker::new(secrets);
        assert_eq!(
            m.mask("Authorization: Bearer s3cr3t"),
            "Authorization: Bearer ***"
        );
    }
}
