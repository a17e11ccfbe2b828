//! Turning a request step into a concrete HTTP request, sending it, and reproducing it
//! as a curl command line.

use crate::interp::{value_text, InterpError, Vars};
use crate::profile::Profile;
use crate::run::assert::ResponseData;
use crate::spec::model::RequestSpec;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A request ready to send: everything interpolated, identity headers merged.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub method: reqwest::Method,
    pub url: String,
    /// Header name and value, in sending order.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
    /// The identity the request is sent as.
    pub identity: Option<String>,
    /// Set for `body_size` bodies, so curl lines stay short.
    pub generated_body_size: Option<u64>,
}

/// Builds the request of a step: interpolates path, query, headers and body with `vars`,
/// merges the identity's headers (`identity`, else the profile's default identity) and
/// joins the path to the profile's base URL.
pub fn prepare_request(
    spec: &RequestSpec,
    vars: &Vars,
    profile: &Profile,
    identity: Option<&str>,
) -> Result<PreparedRequest, InterpError> {
    let identity = identity
        .map(str::to_string)
        .or_else(|| profile.spec.default_identity.clone());
    let path = vars.interpolate(&spec.path)?;
    let mut url = profile.url_for(&path);
    if !spec.query.is_empty() {
        let mut parsed = reqwest::Url::parse(&url)
            .map_err(|e| InterpError(format!("invalid URL `{url}`: {e}")))?;
        {
            let mut pairs = parsed.query_pairs_mut();
            for (k, v) in &spec.query {
                let k = vars.interpolate(k)?;
                match vars.interpolate_value(v)? {
                    Value::Array(items) => {
                        for i in items {
                            pairs.append_pair(&k, &value_text(&i));
                        }
                    }
                    Value::Null => {}
                    other => {
                        pairs.append_pair(&k, &value_text(&other));
                    }
                }
            }
        }
        url = parsed.to_string();
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(name) = &identity {
        let ident = profile
            .spec
            .identities
            .get(name)
            .ok_or_else(|| InterpError(format!("unknown identity `{name}`")))?;
        for (k, v) in &ident.headers {
            headers.push((k.clone(), vars.interpolate(v)?));
        }
    }
    let set_header = |headers: &mut Vec<(String, String)>, k: &str, v: Option<String>| {
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        if let Some(v) = v {
            headers.push((k.to_string(), v));
        }
    };

    let mut body = None;
    let mut generated_body_size = None;
    let mut content_type = None;
    if let Some(json) = &spec.json {
        let v = vars.interpolate_value(json)?;
        body = Some(serde_json::to_vec(&v).map_err(|e| InterpError(e.to_string()))?);
        content_type = Some("application/json".to_string());
    } else if let Some(text) = &spec.body {
        body = Some(vars.interpolate(text)?.into_bytes());
    } else if let Some(n) = spec.body_size {
        body = Some(vec![b'a'; usize::try_from(n).unwrap_or(usize::MAX / 2)]);
        generated_body_size = Some(n);
    }
    if let Some(ct) = &spec.content_type {
        content_type = Some(vars.interpolate(ct)?);
    }
    if let Some(ct) = content_type {
        set_header(&mut headers, "Content-Type", Some(ct));
    }
    for (k, v) in &spec.headers {
        let v = match v {
            Some(v) => Some(vars.interpolate(v)?),
            None => None,
        };
        set_header(&mut headers, k, v);
    }

    Ok(PreparedRequest {
        method: spec.method.to_http(),
        url,
        headers,
        body,
        timeout: spec
            .timeout
            .map(|d| d.0)
            .unwrap_or_else(|| profile.request_timeout()),
        identity,
        generated_body_size,
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl PreparedRequest {
    /// A curl command line reproducing the request (not masked: pass it through the
    /// profile's masker before it leaves the harness).
    pub fn curl(&self) -> String {
        let mut out = format!("curl -sS -i -X {} {}", self.method, shell_quote(&self.url));
        for (k, v) in &self.headers {
            out.push_str(&format!(" -H {}", shell_quote(&format!("{k}: {v}"))));
        }
        if let Some(n) = self.generated_body_size {
            out.push_str(&format!(
                " --data-binary @<(head -c {n} /dev/zero | tr '\\0' a)"
            ));
        } else if let Some(body) = &self.body {
            let text = String::from_utf8_lossy(body);
            out.push_str(&format!(" --data-raw {}", shell_quote(&text)));
        }
        out
    }

    /// `METHOD url` for summaries.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

/// The request could not be carried out (no HTTP response): connection refused, DNS,
/// TLS, transport-level timeout. Never an assertion failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub message: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A short, human cause for a reqwest error ("connection refused", "timed out after 10s").
pub(crate) fn describe_transport_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => {
                    return format!("timed out after {}", humantime::format_duration(timeout))
                }
                _ => {}
            }
        }
        deepest = s.to_string();
        source = s.source();
    }
    let lower = deepest.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused".into()
    } else if lower.contains("dns") || lower.contains("failed to lookup") {
        format!("DNS lookup failed: {deepest}")
    } else {
        deepest
    }
}

/// The HTTP client of a run: one per run, connection pooling, rustls. Redirects are
/// answers to check unless the profile says to follow them.
pub fn build_client(follow_redirects: bool) -> Result<reqwest::Client, String> {
    let policy = if follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .redirect(policy)
        // Servers close idle keep-alive connections (the reference after 10 s); a client
        // that keeps them longer races the close and loses a request to a broken pipe.
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Sends a prepared request and reads the whole body.
///
/// An idempotent request that fails because the server closed a pooled keep-alive
/// connection as it was reused (a race any HTTP client meets, e.g. after a server answered
/// 413 without reading a body) is sent once more, as RFC 9110 §9.2.2 allows; any other
/// transport error is reported as it is.
pub async fn send(
    client: &reqwest::Client,
    req: &PreparedRequest,
) -> Result<ResponseData, TransportError> {
    match send_once(client, req).await {
        Err(SendError::Closed(_)) if req.method.is_idempotent() => send_once(client, req)
            .await
            .map_err(|e| e.into_transport(req.timeout)),
        other => other.map_err(|e| e.into_transport(req.timeout)),
    }
}

enum SendError {
    /// The connection was closed before the response arrived.
    Closed(reqwest::Error),
    Other(reqwest::Error),
}

impl SendError {
    fn new(e: reqwest::Error) -> Self {
        let mut source = std::error::Error::source(&e);
        let mut closed = false;
        while let Some(s) = source {
            if let Some(h) = s.downcast_ref::<hyper::Error>() {
                closed |= h.is_incomplete_message();
            }
            // The server closed the reused connection as the request was written.
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                closed |= matches!(
                    io.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                );
            }
            source = s.source();
        }
        if closed {
            SendError::Closed(e)
        } else {
            SendError::Other(e)
        }
    }

    fn into_transport(self, timeout: std::time::Duration) -> TransportError {
        let (SendError::Closed(e) | SendError::Other(e)) = self;
        TransportError {
            message: describe_transport_error(&e, timeout),
        }
    }
}

async fn send_once(
    client: &reqwest::Client,
    req: &PreparedRequest,
) -> Result<ResponseData, SendError> {
    let mut builder = client
        .request(req.method.clone(), &req.url)
        .timeout(req.timeout);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    if let Some(body) = &req.body {
        builder = builder.body(body.clone());
    }
    let started = Instant::now();
    let resp = builder.send().await.map_err(SendError::new)?;
    let status = resp.status().as_u16();
    let final_url = (resp.url().as_str() != req.url).then(|| resp.url().to_string());
    let headers = header_pairs(resp.headers());
    let body = resp.bytes().await.map_err(SendError::new)?.to_vec();
    Ok(ResponseData {
        status,
        headers,
        body,
        duration: started.elapsed(),
        final_url,
    })
}

/// How long to wait before sending again a request answered `resp`: `Some` only for a
/// 429. Its `Retry-After` in seconds or as an HTTP date (past: no wait); without a
/// usable one, 1 s doubling with each earlier re-send (`attempt` of them).
pub(crate) fn throttled_for(
    resp: &ResponseData,
    attempt: u32,
    now: std::time::SystemTime,
) -> Option<Duration> {
    if resp.status != 429 {
        return None;
    }
    let said = resp.header("retry-after").and_then(|v| {
        let v = v.trim();
        match v.parse::<u64>() {
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => httpdate::parse_http_date(v)
                .ok()
                .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO)),
        }
    });
    Some(said.unwrap_or_else(|| Duration::from_secs(1u64 << attempt.min(10))))
}

/// The start of a body, at most `cap` bytes, cut at a character boundary.
pub fn excerpt(body: &[u8], cap: usize) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= cap {
        return text.into_owned();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], body.len())
}

/// A response's headers as the result model keeps them: lower-case names, lossy values.
pub fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn answer(status: u16, retry_after: Option<&str>) -> ResponseData {
        ResponseData {
            status,
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
            duration: Duration::ZERO,
            final_url: None,
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_else_doubling_from_one_second() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |status, v, attempt| throttled_for(&answer(status, v), attempt, now);
        assert_eq!(wait(200, Some("3"), 0), None);
        assert_eq!(wait(503, Some("3"), 0), None);
        assert_eq!(wait(429, Some(" 3 "), 0), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(wait(429, Some(&later), 0), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(wait(429, Some(&past), 0), Some(Duration::ZERO));
        assert_eq!(wait(429, None, 0), Some(Duration::from_secs(1)));
        assert_eq!(wait(429, Some("soon"), 2), Some(Duration::from_secs(4)));
        assert_eq!(wait(429, None, 40), Some(Duration::from_secs(1024)));
    }
}
