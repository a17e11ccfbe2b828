//! Checking a profile's `explore:` section: every problem located, before anything runs.

use serde_json::Value;

use crate::spec::errors::ParseError;
use crate::spec::locate::YamlPath;
use crate::spec::model::{ExploreSpec, ProfileSpec};

/// The problems of a profile's `explore:` section, each located.
pub(crate) fn spec_errors(
    spec: &ProfileSpec,
    explore: &ExploreSpec,
    at_root: &YamlPath,
    at: &dyn Fn(YamlPath, String) -> ParseError,
) -> Vec<ParseError> {
    let mut errors = Vec::new();
    for (i, id) in explore.identities.iter().enumerate() {
        if !spec.identities.contains_key(id) {
            errors.push(at(
                at_root.key("identities").index(i),
                format!("unknown identity `{id}`"),
            ));
        }
    }
    if explore.identities.is_empty() && spec.properties.as_ref().is_none_or(|p| p.scopes.is_empty())
    {
        errors.push(at(
            at_root.clone(),
            "no identity to explore as: list `identities` here or `properties.scopes`".into(),
        ));
    }
    if explore.operations.iter().all(|o| o.creates.is_none()) {
        errors.push(at(
            at_root.key("operations"),
            "no operation `creates` a resource: the walk would have nothing to act on".into(),
        ));
    }
    for (i, op) in explore.operations.iter().enumerate() {
        let here = at_root.key("operations").index(i);
        if let Err(e) = crate::profile::parse_operation(&op.request) {
            errors.push(at(here.key("request"), e));
        }
        if let Some(path) = &op.creates {
            if let Err(e) = serde_json_path::JsonPath::parse(path) {
                errors.push(at(
                    here.key("creates"),
                    format!("`{path}` is not a JSONPath: {e}"),
                ));
            }
        }
        if op.weight.is_some_and(|w| !(w >= 0.0 && w.is_finite())) {
            errors.push(at(here.key("weight"), "expected a number ≥ 0".to_string()));
        }
        let mut problems = Vec::new();
        if let Some(body) = &op.body {
            generator_errors(body, &mut problems);
        }
        for v in op.query.values() {
            generator_errors(v, &mut problems);
        }
        for p in problems {
            errors.push(at(here.clone(), p));
        }
    }
    errors
}

fn generator_errors(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                match k.as_str() {
                    "$one_of" if item.as_array().is_none_or(|a| a.is_empty()) => {
                        out.push("`$one_of` takes a non-empty list of values".into())
                    }
                    "$int"
                        if !item
                            .as_array()
                            .is_some_and(|a| a.len() == 2 && a.iter().all(Value::is_i64)) =>
                    {
                        out.push("`$int` takes [min, max], two integers".into())
                    }
                    "$text" if !matches!(item.as_str(), Some("canary" | "any")) => {
                        out.push("`$text` is `canary` or `any`".into())
                    }
                    "$max_chars" if !item.is_u64() => {
                        out.push("`$max_chars` takes a whole number".into())
                    }
                    "$one_of" | "$int" | "$text" | "$max_chars" => {}
                    other if other.starts_with('$') => out.push(format!(
                        "unknown generator `{other}` (known: $one_of, $int, $text, $max_chars)"
                    )),
                    _ => generator_errors(item, out),
                }
                if k == "$one_of" {
                    if let Some(items) = item.as_array() {
                        items.iter().for_each(|i| generator_errors(i, out));
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| generator_errors(i, out)),
        _ => {}
    }
}
