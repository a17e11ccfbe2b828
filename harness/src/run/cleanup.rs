//! Leaving a target as it was found: every resource a scenario creates (as the profile's
//! `resources` recognise it) is recorded, and removed once the scenario's teardown ran.

use super::assert::{query_json, ResponseData};
use super::history::{History, Observation};
use super::http::{send, PreparedRequest};
use crate::interp::value_text;
use crate::profile::{parse_operation, Profile};
use flowgate_reports::Cleanup;
use serde_json::Value;

/// One resource a scenario created.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    /// Index into the profile's `resources`.
    resource: usize,
    id: String,
    /// The creating request's headers (identity and tenant), minus those of its body.
    headers: Vec<(String, String)>,
    /// Who created it, and in which scopes (the removal is recorded as theirs).
    identity: String,
    scopes: Vec<String>,
}

/// The resource a request created, if the profile recognises the request as a creation
/// and it was answered 2xx with an id.
pub(crate) fn created_by(
    profile: &Profile,
    req: &PreparedRequest,
    resp: &ResponseData,
    scopes: Vec<String>,
) -> Option<Created> {
    if !(200..300).contains(&resp.status) || profile.spec.resources.is_empty() {
        return None;
    }
    let path = request_path(profile, &req.url)?;
    let resource = profile.spec.resources.iter().position(|r| {
        r.created_by
            .iter()
            .any(|op| parse_operation(op).is_ok_and(|(m, p)| m == req.method && p == path))
    })?;
    let doc = resp.json()?;
    let id = match query_json(&profile.spec.resources[resource].id, &doc).ok()?? {
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
        v => value_text(&v),
    };
    let headers = req
        .headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.to_ascii_lowercase().as_str(),
                "content-type" | "content-length" | "idempotency-key"
            )
        })
        .cloned()
        .collect();
    Some(Created {
        resource,
        id,
        headers,
        identity: req.identity.clone().unwrap_or_default(),
        scopes,
    })
}

/// The request's path relative to the profile's base URL (`None`: another host).
pub(crate) fn request_path(profile: &Profile, url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let base = reqwest::Url::parse(&profile.spec.base_url).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let prefix = base.path().trim_end_matches('/');
    url.path().strip_prefix(prefix).map(str::to_string)
}

/// Removes what a scenario created (when the profile says `cleanup: true`) and counts
/// what is left. A 2xx or 404 answer to the removal means the resource is gone. Each
/// removal is part of the run's history (a write like any other, for the properties).
pub(crate) async fn remove_all(
    client: &reqwest::Client,
    profile: &Profile,
    created: Vec<Created>,
    history: &History,
    scenario: &str,
) -> Cleanup {
    let mut out = Cleanup {
        created: created.len(),
        ..Cleanup::default()
    };
    for c in created {
        let spec = &profile.spec.resources[c.resource];
        let Ok((method, template)) = parse_operation(&spec.delete) else {
            continue;
        };
        let line = format!("{method} {}", template.replace("{id}", &c.id));
        if !profile.spec.cleanup {
            out.left_behind
                .push(format!("{} {} (cleanup: false)", spec.name, c.id));
            continue;
        }
        let req = PreparedRequest {
            method,
            url: profile.url_for(&template.replace("{id}", &encode_segment(&c.id))),
            headers: c.headers,
            body: None,
            timeout: profile.request_timeout(),
            identity: None,
            generated_body_size: None,
        };
        let sent_ms = history.now_ms();
        let answer = send(client, &req).await;
        history.record(Observation {
            seq: 0,
            scenario: format!("{scenario} (cleanup)"),
            identity: c.identity,
            scopes: c.scopes,
            method: req.method.to_string(),
            path: template.replace("{id}", &encode_segment(&c.id)),
            started_ms: sent_ms,
            ended_ms: history.now_ms(),
            status: answer.as_ref().ok().map(|r| r.status),
            content_type: answer.as_ref().ok().and_then(ResponseData::content_type),
            expected_5xx: false,
            request: None,
            response: answer.as_ref().ok().and_then(|r| r.json()),
        });
        match answer {
            Ok(r) if (200..300).contains(&r.status) || r.status == 404 => out.deleted += 1,
            Ok(r) => out.left_behind.push(format!("{line} → {}", r.status)),
            Err(e) => out.left_behind.push(format!("{line} → {e}")),
        }
    }
    out
}

/// An id as one path segment (ids are usually UUIDs; anything else is escaped).
fn encode_segment(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}
