//! API coverage: which operations × documented statuses of the target's OpenAPI
//! document the run's requests exercised, which it never did, and which statuses it saw
//! that the document does not declare.

use super::cleanup::request_path;
use crate::profile::Profile;
use flowgate_reports::{status_matches, ApiCoverage, OperationCoverage};
use serde_json::Value;
use std::collections::BTreeSet;

/// One answered request of the run.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) status: u16,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Reads the profile's `openapi_path` and matches the run's answers against it; `None`
/// when the profile names no document.
pub(crate) async fn measure(
    client: &reqwest::Client,
    profile: &Profile,
    answered: &[Answered],
) -> Option<ApiCoverage> {
    let path = profile.spec.openapi_path.as_ref()?;
    let source = profile.url_for(path);
    let doc = match fetch(client, &source).await {
        Ok(doc) => doc,
        Err(error) => {
            return Some(ApiCoverage {
                source,
                error: Some(error),
                ..ApiCoverage::default()
            })
        }
    };
    Some(coverage_of(&doc, source, profile, answered))
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status().as_u16()));
    }
    resp.json::<Value>()
        .await
        .map_err(|e| format!("{url} is not JSON: {e}"))
}

/// The operations of an OpenAPI document, and what `answered` did of them.
pub(crate) fn coverage_of(
    doc: &Value,
    source: String,
    profile: &Profile,
    answered: &[Answered],
) -> ApiCoverage {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ApiCoverage {
            source,
            error: Some("the document has no `paths`".into()),
            ..ApiCoverage::default()
        };
    };
    let mut operations: Vec<OperationCoverage> = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let documented = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            operations.push(OperationCoverage {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                documented,
                seen: Vec::new(),
            });
        }
    }
    let mut undocumented = BTreeSet::new();
    let mut unmatched = 0;
    for a in answered {
        let found =
            request_path(profile, &a.url).and_then(|p| best_match(&operations, &a.method, &p));
        let Some(i) = found else {
            unmatched += 1;
            continue;
        };
        let op = &mut operations[i];
        if !op.seen.contains(&a.status) {
            op.seen.push(a.status);
            op.seen.sort_unstable();
        }
        if !op.documented.iter().any(|d| status_matches(d, a.status)) {
            undocumented.insert(format!("{} {} → {}", op.method, op.path, a.status));
        }
    }
    ApiCoverage {
        source,
        operations,
        undocumented: undocumented.into_iter().collect(),
        unmatched_requests: unmatched,
        error: None,
    }
}

/// The operation whose template matches `path` with the fewest parameters (a literal
/// segment beats `{param}`).
fn best_match(operations: &[OperationCoverage], method: &str, path: &str) -> Option<usize> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    operations
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method.eq_ignore_ascii_case(method))
        .filter_map(|(i, op)| {
            let template: Vec<&str> = op.path.trim_end_matches('/').split('/').collect();
            if template.len() != segments.len() {
                return None;
            }
            let mut params = 0;
            for (t, s) in template.iter().zip(&segments) {
                if t.starts_with('{') && t.ends_with('}') {
                    if s.is_empty() {
                        return None;
                    }
                    params += 1;
                } else if t != s {
                    return None;
                }
            }
            Some((params, i))
        })
        .min()
        .map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::EnvMap;
    use serde_json::json;

    #[test]
    fn answers_are_matched_to_templates_and_undocumented_statuses_named() {
        let profile = Profile::parse(
            "name: t\nbase_url: http://h:1/base\n",
            "t.target.yaml",
            &EnvMap(Default::default()),
        )
        .unwrap();
        let doc = json!({"paths": {
            "/flows": {"get": {"responses": {"200": {}}}, "post": {"responses": {"201": {}, "4XX": {}}}},
            "/flows/{id}": {"get": {"responses": {"200": {}, "404": {}}}},
            "/flows/types": {"get": {"responses": {"200": {}}}}
        }});
        let a = |method: &str, path: &str, status| Answered {
            method: method.into(),
            url: format!("http://h:1/base{path}?q=1"),
            status,
        };
        let answered = [
            a("GET", "/flows/123", 200),
            a("GET", "/flows/types", 200),
            a("POST", "/flows", 422),
            a("GET", "/flows/123", 500),
            a("GET", "/elsewhere", 200),
        ];
        let c = coverage_of(&doc, "doc".into(), &profile, &answered);
        assert_eq!(c.unmatched_requests, 1);
        assert_eq!(c.undocumented, ["GET /flows/{id} → 500"]);
        // 6 documented responses: /flows/{id} 200, /flows/types 200, POST 4XX exercised.
        assert_eq!(c.response_pairs(), (3, 6));
        assert_eq!(c.operations_exercised(), 3);
    }
}
