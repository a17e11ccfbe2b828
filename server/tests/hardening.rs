//! Bad input and faults answered as the contract says (problem+json, never a 500), found
//! by an adversarial pass and kept fixed here: NUL characters, a lost database
//! connection, and a `/metrics` text a strict Prometheus parser accepts.

mod common;

use common::{expect_problem, Ctx};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A JSON body as raw text, so that `\u0000` escapes reach the server as written.
async fn post_raw(ctx: &Ctx, path: &str, body: &str) -> reqwest::Response {
    ctx.req(Method::POST, path, &ctx.a)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn nul_characters_are_refused_not_a_500(ctx: Ctx) {
    let cases = [
        (
            "/api/v1/flows",
            r#"{"flow_type":"discovery","flow_name":"a\u0000b"}"#,
            "flow_name",
        ),
        (
            "/api/v1/flows",
            r#"{"flow_type":"discovery","configuration":{"mode":"x\u0000"}}"#,
            "configuration.mode",
        ),
        (
            "/api/v1/flows",
            r#"{"flow_type":"discovery","initial_data":{"raw_data":[{"name":"ok"},{"n\u0000":"v"}]}}"#,
            "initial_data.raw_data[1].n\u{0}",
        ),
        (
            "/api/v1/unified-discovery/flow/initialize",
            r#"{"raw_data":[{"application_name":"erp\u0000"}]}"#,
            "raw_data[0].application_name",
        ),
    ];
    for (path, body, field) in cases {
        let res = post_raw(&ctx, path, body).await;
        let problem = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    // A comment given to a phase that waits for a person: the same rule.
    let id = ctx.create(&ctx.a, json!({"flow_type": "execution"})).await;
    let res = post_raw(
        &ctx,
        &format!("/api/v1/flows/{id}/input"),
        r#"{"approved":false,"comment":"no\u0000"}"#,
    )
    .await;
    expect_problem(res, 422, "validation_failed").await;
    // Nothing was stored by the refused creates.
    let list = ctx.get_json("/api/v1/flows", &ctx.a).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
}
on_both_backends!(nul_characters_are_refused_not_a_500);

/// Every family's `# HELP` and `# TYPE` once, its samples together and after them, and
/// every sample line `name{labels} value` with a number: what strict parsers require.
fn check_prometheus_text(text: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut typed: BTreeMap<String, usize> = BTreeMap::new();
    let mut helped: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut finished: Vec<String> = Vec::new();
    let mut samples: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            *helped.entry(name).or_default() += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap_or_default().to_string();
            let kind = parts.next().unwrap_or_default();
            if !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind) {
                return Err(format!("line {at}: unknown type `{kind}`"));
            }
            *typed.entry(name.clone()).or_default() += 1;
            if let Some(prev) = current.replace(name) {
                finished.push(prev);
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("line {at}: no value: {line}"))?;
        value
            .parse::<f64>()
            .map_err(|_| format!("line {at}: `{value}` is not a number"))?;
        let name = series.split('{').next().unwrap_or_default();
        let family = current
            .clone()
            .ok_or_else(|| format!("line {at}: sample before any # TYPE"))?;
        let belongs = name == family
            || ["_sum", "_count", "_bucket", "_total"]
                .iter()
                .any(|s| name.strip_suffix(s) == Some(family.as_str()));
        if !belongs || finished.contains(&family) {
            return Err(format!("line {at}: `{name}` outside its family `{family}`"));
        }
        *samples.entry(family).or_default() += 1;
    }
    for (name, n) in typed.iter().chain(helped.iter()) {
        if *n > 1 {
            return Err(format!("family `{name}` is described {n} times"));
        }
    }
    Ok(samples)
}

#[test]
fn the_metrics_checker_rejects_a_repeated_family() {
    let twice = "# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n# TYPE a gauge\na{s=\"b\"} 2\n";
    assert!(check_prometheus_text(twice).is_err());
    let stray = "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n";
    assert!(check_prometheus_text(stray).is_err());
    let fine = "# HELP a x\n# TYPE a counter\na_total 1\n# TYPE b summary\nb_sum 1\nb_count 2\n";
    assert!(check_prometheus_text(fine).is_ok());
}

#[tokio::test]
async fn metrics_are_strict_prometheus_text_with_the_engine_running() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    let ctx = Ctx::pg_with_engine(pool).await;
    ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    // Let the engine's monitor publish its gauges at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let res = ctx.anon(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap_or_default();
    let families = check_prometheus_text(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(families.contains_key("flowgate_flows"), "{families:?}");
    assert!(
        families.contains_key("flowgate_engine_queue_depth"),
        "{families:?}"
    );
}

/// Kills every connection the server holds, repeatedly and while requests are in flight
/// (as an administrator would, or a database restart): requests answer 503 problem+json
/// while the pool reconnects — never a 500 — and the server recovers on its own.
#[tokio::test]
async fn a_lost_database_connection_is_503_then_recovers() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    let admin = pool.clone();
    let ctx = std::sync::Arc::new(Ctx::pg(pool).await);
    let id = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let path = format!("/api/v1/flows/{id}");
    assert_eq!(ctx.get_json(&path, &ctx.a).await["flow_id"], id);

    // Readers and writers in flight, bounded in count and time.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut clients = Vec::new();
    for n in 0..6 {
        let ctx = ctx.clone();
        let path = path.clone();
        clients.push(tokio::spawn(async move {
            let mut seen: Vec<(u16, Value)> = Vec::new();
            for _ in 0..400 {
                if Instant::now() > deadline {
                    break;
                }
                let res = if n % 2 == 0 {
                    ctx.req(Method::GET, &path, &ctx.a).send().await
                } else {
                    ctx.req(Method::POST, "/api/v1/flows", &ctx.a)
                        .json(&json!({"flow_type": "planning"}))
                        .send()
                        .await
                };
                let Ok(res) = res else { continue };
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or_default();
                seen.push((status, body));
            }
            seen
        }));
    }
    let mut killed = 0i64;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        killed += sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&admin)
        .await
        .unwrap_or(0);
    }
    assert!(killed >= 1, "the server held no connection to kill");
    let mut unavailable = 0;
    for c in clients {
        for (status, body) in c.await.unwrap_or_default() {
            match status {
                200 | 201 => {}
                503 => {
                    assert_eq!(body["code"], "service_unavailable", "{body}");
                    unavailable += 1;
                }
                // 503s come back fast, so the writers can outrun the create rate limit.
                429 => assert_eq!(body["code"], "rate_limited", "{body}"),
                other => panic!("status {other} while the database connections died: {body}"),
            }
        }
    }

    // And it recovers by itself.
    let started = Instant::now();
    loop {
        let res = ctx.req(Method::GET, &path, &ctx.a).send().await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery within 15 s (last status {})",
            res.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{killed} backends terminated, {unavailable} requests answered 503");
}

/// Reads what the server sends until it closes the connection (or `within` passes).
/// Returns the bytes, and whether the connection was closed.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    within: Duration,
) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    use tokio::io::AsyncWriteExt;
    let ctx = Ctx::sqlite_tuned(|c| c.header_read_timeout = Duration::from_secs(1)).await;
    let addr = ctx.server.addr;
    // 200 connections: half send half a header and stall, half send nothing at all.
    let mut slow = Vec::new();
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(s);
    }
    // A normal client keeps being served meanwhile.
    for _ in 0..10 {
        let h = ctx.anon_json("/health").await;
        assert_eq!(h["status"], "ok");
    }
    let started = Instant::now();
    let reads = slow
        .iter_mut()
        .map(|s| read_until_closed(s, Duration::from_secs(5)));
    let results = futures::future::join_all(reads).await;
    let open: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, (_, was_closed))| !*was_closed)
        .map(|(i, _)| i)
        .collect();
    assert!(open.is_empty(), "slow connections still open: {open:?}");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(ctx.anon_json("/health").await["status"], "ok");

    // A keep-alive connection that has been served and then goes quiet is closed too.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (got, was_closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    assert!(was_closed, "an idle keep-alive connection stayed open");
}

#[tokio::test]
async fn a_stalled_body_is_408_not_a_server_fault() {
    use tokio::io::AsyncWriteExt;
    let ctx = Ctx::sqlite_tuned(|c| c.body_read_timeout = Duration::from_millis(500)).await;
    for head in [
        // Content-Length larger than what is sent.
        "POST /api/v1/flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n",
        // Chunked, without the last chunk.
        "POST /api/v1/flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(ctx.server.addr).await.unwrap();
        let request = format!(
            "{head}Authorization: Bearer {}\r\n\r\n{}",
            ctx.a.api_key,
            if head.contains("chunked") { "5\r\n{\"flo\r\n" } else { "{\"flow_type\"" }
        );
        s.write_all(request.as_bytes()).await.unwrap();
        let (got, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("application/problem+json"), "{text}");
        assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    }
}

#[tokio::test]
async fn oversized_headers_and_uris_are_problem_json() {
    let ctx = Ctx::sqlite().await;
    let long_uri = format!("/api/v1/flows?status={}", "r".repeat(9 * 1024));
    let res = ctx
        .req(Method::GET, &long_uri, &ctx.a)
        .send()
        .await
        .unwrap();
    expect_problem(res, 414, "uri_too_long").await;
    let res = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .header("x-big", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    expect_problem(res, 431, "request_header_fields_too_large").await;
    let mut many = ctx.req(Method::GET, "/api/v1/flows", &ctx.a);
    for i in 0..150 {
        many = many.header(format!("x-h{i}"), "v");
    }
    expect_problem(
        many.send().await.unwrap(),
        431,
        "request_header_fields_too_large",
    )
    .await;
}
