//! What the target says about itself, before anything else is sent.

use super::*;

/// What the target says about itself, read from its health URL.
pub async fn probe_target(profile: &Profile) -> Result<TargetInfo, String> {
    let client = build_client(profile.spec.follow_redirects)?;
    probe_with(&client, profile).await
}

pub(crate) async fn probe_with(
    client: &reqwest::Client,
    profile: &Profile,
) -> Result<TargetInfo, String> {
    let url = profile.health_url();
    let req = PreparedRequest {
        method: reqwest::Method::GET,
        url: url.clone(),
        headers: Vec::new(),
        body: None,
        timeout: profile.request_timeout(),
        identity: None,
        generated_body_size: None,
    };
    let mut info = unprobed_target(profile);
    let resp = send(client, &req).await.map_err(|e| {
        profile
            .masker
            .mask(&format!("cannot reach {url}: {}", e.message))
    })?;
    if let Some(doc) = resp.json() {
        let pick = |path: Option<&String>, default: &str| -> Option<String> {
            let p = path.map(|s| s.as_str()).unwrap_or(default);
            query_json(p, &doc)
                .ok()
                .flatten()
                .filter(|v| !v.is_null() && !v.is_array())
                .map(|v| value_text(&v))
        };
        info.version = pick(profile.spec.version_path.as_ref(), "$.version");
        info.system = pick(profile.spec.system_path.as_ref(), "$.service");
        info.database = pick(None, "$.database.backend");
        if let Some(Value::Array(d)) = doc.get("defects") {
            info.defects = d
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
    }
    Ok(info)
}

/// What is known of a target before (or without) asking it: its profile's name and URL.
pub(crate) fn unprobed_target(profile: &Profile) -> TargetInfo {
    TargetInfo {
        name: profile.spec.name.clone(),
        base_url: profile.masker.mask(&profile.spec.base_url),
        system: None,
        version: None,
        defects: Vec::new(),
        database: None,
        follows_redirects: profile.spec.follow_redirects,
        cleanup: (!profile.spec.resources.is_empty()).then_some(profile.spec.cleanup),
    }
}
