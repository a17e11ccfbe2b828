//! The v1 API and the compatibility layer over real HTTP, on PostgreSQL and on SQLite:
//! happy paths, every error case, transitions and idempotency.

mod common;

use common::{expect_problem, Ctx};
use reqwest::Method;
use serde_json::{json, Value};

async fn operations(ctx: Ctx) {
    let h: Value = ctx.anon_json("/health").await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["service"], "flowgate-reference");
    assert_eq!(h["database"]["status"], "healthy");
    assert!(h["database"]["backend"].is_string());
    assert_eq!(h["defects"], json!([]), "no defect unless named");

    let res = ctx.anon(Method::GET, "/ready").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["status"], "ready");
    assert_eq!(r["queue_depth"], 0);
    assert!(r["workers"]["healthy"].as_bool().unwrap());

    let c: Value = ctx.anon_json("/api/v1/health").await;
    assert_eq!(c["status"], "healthy");
    assert_eq!(c["database"]["status"], "healthy");
    assert!(c["version"].is_string());

    ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let r: Value = ctx.anon_json("/ready").await;
    assert_eq!(r["queue_depth"], 1, "a new flow is runnable");

    let text = ctx
        .anon(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("flowgate_http_requests_total{route=\"/api/v1/flows\",method=\"POST\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("flowgate_http_request_duration_seconds_bucket{route=\"/ready\""),
        "{text}"
    );
    assert!(
        text.contains("flowgate_flows{status=\"initialized\"} 1"),
        "{text}"
    );

    let doc: Value = ctx.anon_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/flows",
        "/api/v1/flows/{flow_id}",
        "/api/v1/flows/{flow_id}/input",
        "/api/v1/unified-discovery/flow/initialize",
        "/health",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from openapi"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}
on_both_backends!(operations);

async fn flow_types(ctx: Ctx) {
    let v: Value = ctx.get_json("/api/v1/flow-types", &ctx.a).await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    assert_eq!(items[0]["flow_type"], "discovery");
    assert_eq!(items[0]["phases"].as_array().unwrap().len(), 6);
    assert_eq!(
        items[0]["phases"][0],
        json!({"name": "data_import", "needs_input": false})
    );
    assert_eq!(items[0]["retry"]["max_attempts"], 3);
    let execution = items
        .iter()
        .find(|t| t["flow_type"] == "execution")
        .unwrap();
    assert_eq!(execution["phases"][2]["needs_input"], true);
}
on_both_backends!(flow_types);

async fn create_get_and_events(ctx: Ctx) {
    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .json(&json!({
            "flow_type": "discovery",
            "flow_name": "wave 1",
            // Keys out of jsonb's order, nesting, a fraction, a null, non-ASCII text: the
            // create's answer is built from the request, the read's from the stored rows,
            // and the two must be the same flow.
            "configuration": {"zeta": 1, "k": {"b": [1.5, "x", null]}, "ümlaut": "ç"},
            "initial_data": {"raw_data": [{"application_name": "crm"}]}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let f: Value = res.json().await.unwrap();
    let id = f["flow_id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/flows/{id}"));
    assert_eq!(f["flow_type"], "discovery");
    assert_eq!(f["flow_name"], "wave 1");
    assert_eq!(f["status"], "initialized");
    assert_eq!(f["current_phase"], "data_import");
    assert_eq!(f["progress_percentage"], 0.0);
    assert_eq!(f["client_account_id"], ctx.a.client_account_id.to_string());
    assert_eq!(f["engagement_id"], ctx.a.engagements[0].id.to_string());
    assert_eq!(
        f["configuration"],
        json!({"zeta": 1, "k": {"b": [1.5, "x", null]}, "ümlaut": "ç"})
    );
    assert_eq!(f["error"], Value::Null);
    let phases = f["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 6);
    assert!(phases
        .iter()
        .all(|p| p["status"] == "pending" && p["attempts"] == 0));

    let got: Value = ctx.get_json(&location, &ctx.a).await;
    assert_eq!(got, f);

    let ev: Value = ctx.get_json(&format!("{location}/events"), &ctx.a).await;
    assert_eq!(ev["items"].as_array().unwrap().len(), 1);
    assert_eq!(ev["items"][0]["seq"], 1);
    assert_eq!(ev["items"][0]["kind"], "created");
    assert_eq!(ev["items"][0]["to_status"], "initialized");

    // Every flow type can be created; an explicit engagement header works.
    for t in [
        "assessment",
        "planning",
        "execution",
        "modernize",
        "finops",
        "observability",
        "decommission",
    ] {
        let res = ctx
            .req(Method::POST, "/api/v1/flows", &ctx.a)
            .header("X-Engagement-ID", ctx.a.engagements[1].id.to_string())
            .json(&json!({"flow_type": t}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{t}");
        let f: Value = res.json().await.unwrap();
        assert_eq!(f["engagement_id"], ctx.a.engagements[1].id.to_string());
    }
}
on_both_backends!(create_get_and_events);

async fn list_filters_and_pages(ctx: Ctx) {
    let d1 = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let d2 = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let a1 = ctx.create(&ctx.a, json!({"flow_type": "assessment"})).await;
    let list = |q: &'static str| {
        let ctx = &ctx;
        async move {
            let res = ctx
                .req(Method::GET, &format!("/api/v1/flows{q}"), &ctx.a)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let all = list("").await;
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flow_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a1.as_str(), d2.as_str(), d1.as_str()], "newest first");
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(all["items"][0]["phases_total"], 4);

    let page1 = list("?limit=2").await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    let res = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .query(&[("limit", "2"), ("cursor", cursor.as_str())])
        .send()
        .await
        .unwrap();
    let page2: Value = res.json().await.unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["flow_id"], d1);
    assert_eq!(page2["next_cursor"], Value::Null);

    let assess = list("?flow_type=assessment").await;
    assert_eq!(assess["items"].as_array().unwrap().len(), 1);
    assert_eq!(list("?status=paused").await["items"], json!([]));
    let res = ctx
        .req(Method::POST, &format!("/api/v1/flows/{d2}/pause"), &ctx.a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let paused = list("?status=paused").await;
    assert_eq!(paused["items"][0]["flow_id"], d2);
    assert_eq!(
        list("?status=paused,initialized").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=x", "limit"),
        ("?status=bogus", "status"),
        ("?flow_type=bogus", "flow_type"),
        ("?cursor=zz", "cursor"),
    ] {
        let res = ctx
            .req(Method::GET, &format!("/api/v1/flows{q}"), &ctx.a)
            .send()
            .await
            .unwrap();
        let body = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{q}");
    }
}
on_both_backends!(list_filters_and_pages);

async fn post_action(ctx: &Ctx, id: &str, action: &str) -> reqwest::Response {
    ctx.req(
        Method::POST,
        &format!("/api/v1/flows/{id}/{action}"),
        &ctx.a,
    )
    .send()
    .await
    .unwrap()
}

async fn transitions(ctx: Ctx) {
    let id = ctx.create(&ctx.a, json!({"flow_type": "planning"})).await;
    let res = post_action(&ctx, &id, "pause").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "paused");

    let body = expect_problem(
        post_action(&ctx, &id, "pause").await,
        409,
        "illegal_transition",
    )
    .await;
    assert_eq!(body["current_status"], "paused");

    let res = post_action(&ctx, &id, "resume").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["status"],
        "initialized",
        "back where it was"
    );
    expect_problem(
        post_action(&ctx, &id, "resume").await,
        409,
        "illegal_transition",
    )
    .await;
    expect_problem(
        post_action(&ctx, &id, "retry").await,
        409,
        "illegal_transition",
    )
    .await;
    let res = ctx
        .req(Method::POST, &format!("/api/v1/flows/{id}/input"), &ctx.a)
        .json(&json!({"approved": true}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(res, 409, "illegal_transition").await;
    assert_eq!(body["current_status"], "initialized");

    let res = post_action(&ctx, &id, "cancel").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
    for action in ["cancel", "pause", "resume", "retry"] {
        let body = expect_problem(
            post_action(&ctx, &id, action).await,
            409,
            "illegal_transition",
        )
        .await;
        assert_eq!(body["current_status"], "cancelled", "{action}");
    }

    let ev: Value = ctx
        .get_json(&format!("/api/v1/flows/{id}/events"), &ctx.a)
        .await;
    let seen: Vec<(i64, String, String)> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["from_status"].as_str().unwrap_or("-").to_string(),
                e["to_status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, String)> = [
        (1, "-", "initialized"),
        (2, "initialized", "paused"),
        (3, "paused", "initialized"),
        (4, "initialized", "cancelled"),
    ]
    .iter()
    .map(|(s, f, t)| (*s, f.to_string(), t.to_string()))
    .collect();
    assert_eq!(seen, expected);

    // Input bodies are validated before anything else.
    for (body, field) in [
        (json!({}), "approved"),
        (json!({"approved": "yes"}), "approved"),
        (json!({"approved": true, "comment": 5}), "comment"),
        (json!({"approved": true, "extra": 1}), "extra"),
    ] {
        let res = ctx
            .req(Method::POST, &format!("/api/v1/flows/{id}/input"), &ctx.a)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{body}");
    }
}
on_both_backends!(transitions);

async fn soft_delete(ctx: Ctx) {
    let id = ctx.create(&ctx.a, json!({"flow_type": "finops"})).await;
    let res = ctx
        .req(Method::DELETE, &format!("/api/v1/flows/{id}"), &ctx.a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.a)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "not_found").await;
    let res = ctx
        .req(Method::DELETE, &format!("/api/v1/flows/{id}"), &ctx.a)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "not_found").await;
    expect_problem(post_action(&ctx, &id, "pause").await, 404, "not_found").await;
    let list: Value = ctx.get_json("/api/v1/flows", &ctx.a).await;
    assert_eq!(list["items"], json!([]));
}
on_both_backends!(soft_delete);

async fn error_responses(ctx: Ctx) {
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut r = ctx.req(Method::POST, "/api/v1/flows", &ctx.a).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    expect_problem(
        post("{not json", Some("application/json")).await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_problem(
        post("", Some("application/json")).await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_problem(
        post(r#"{"flow_type":"discovery"}"#, None).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_problem(
        post(r#"{"flow_type":"discovery"}"#, Some("text/plain"))
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let p = expect_problem(
        post("[1]", Some("application/json")).await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "(body)");

    let big = format!(
        r#"{{"flow_type":"discovery","initial_data":{{"x":"{}"}}}}"#,
        "a".repeat(1_100_000)
    );
    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_problem(res, 413, "payload_too_large").await;

    for (body, field, message_part) in [
        (json!({}), "flow_type", "missing field"),
        (json!({"flow_type": 7}), "flow_type", "expected a string"),
        (
            json!({"flow_type": "discovery", "flow_name": 1}),
            "flow_name",
            "expected a string",
        ),
        (
            json!({"flow_type": "discovery", "configuration": []}),
            "configuration",
            "expected an object",
        ),
        (
            json!({"flow_type": "discovery", "initial_data": "x"}),
            "initial_data",
            "expected an object",
        ),
        (
            json!({"flow_type": "discovery", "flowname": "x"}),
            "flowname",
            "unknown field",
        ),
        (
            json!({"flow_type": "discovery", "flow_name": "n".repeat(201)}),
            "flow_name",
            "at most 200",
        ),
    ] {
        let res = ctx
            .req(Method::POST, "/api/v1/flows", &ctx.a)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{body}");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message_part),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains(field), "{p}");
    }
    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .json(&json!({"flow_type": "teleport"}))
        .send()
        .await
        .unwrap();
    let p = expect_problem(res, 422, "unknown_flow_type").await;
    assert_eq!(p["errors"][0]["field"], "flow_type");
    assert!(p["detail"].as_str().unwrap().contains("discovery"));

    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .json(&json!({"flow_type": "discovery", "configuration": {"simulate": {"data_import": {"fail_transient": 1}}}}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 422, "simulated_faults_disabled").await;

    for path in [
        "/api/v1/flows/not-a-uuid",
        "/api/v1/flows/123/pause",
        "/api/v1/unified-discovery/flow/x/status",
    ] {
        let method = if path.ends_with("pause") {
            Method::POST
        } else {
            Method::GET
        };
        let res = ctx.req(method, path, &ctx.a).send().await.unwrap();
        expect_problem(res, 400, "invalid_id").await;
    }
    let res = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .header("X-Engagement-ID", "one")
        .send()
        .await
        .unwrap();
    expect_problem(res, 400, "invalid_header").await;
    let res = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .header("X-Engagement-ID", ctx.b.engagements[0].id.to_string())
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "engagement_not_found").await;
    let res = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .header("X-Engagement-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "engagement_not_found").await;

    let res = ctx
        .req(Method::GET, "/api/v1/nothing-here", &ctx.a)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "route_not_found").await;
    let res = ctx.anon(Method::GET, "/nope").send().await.unwrap();
    expect_problem(res, 404, "route_not_found").await;
    let res = ctx
        .req(Method::PUT, "/api/v1/flows", &ctx.a)
        .send()
        .await
        .unwrap();
    expect_problem(res, 405, "method_not_allowed").await;
    let res = ctx
        .req(
            Method::GET,
            "/api/v1/flows/00000000-0000-0000-0000-000000000000/pause",
            &ctx.a,
        )
        .send()
        .await
        .unwrap();
    expect_problem(res, 405, "method_not_allowed").await;

    let res = ctx.anon(Method::GET, "/api/v1/flows").send().await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    expect_problem(res, 401, "unauthorized").await;
    let res = ctx
        .anon(Method::GET, "/api/v1/flows")
        .bearer_auth("fg_0000")
        .send()
        .await
        .unwrap();
    expect_problem(res, 401, "unauthorized").await;
    let res = ctx
        .anon(Method::GET, "/api/v1/flows")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_problem(res, 401, "unauthorized").await;
    let res = ctx
        .anon(Method::POST, "/api/v1/unified-discovery/flow/initialize")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 401, "unauthorized").await;

    let missing = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, format!("/api/v1/flows/{missing}")),
        (Method::GET, format!("/api/v1/flows/{missing}/events")),
        (Method::POST, format!("/api/v1/flows/{missing}/cancel")),
    ] {
        let res = ctx.req(method, &path, &ctx.a).send().await.unwrap();
        expect_problem(res, 404, "not_found").await;
    }
}
on_both_backends!(error_responses);

async fn idempotency(ctx: Ctx) {
    let send = |key: &'static str, body: Value, who: &'static str| {
        let creds = if who == "a" { &ctx.a } else { &ctx.b };
        ctx.req(Method::POST, "/api/v1/flows", creds)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = json!({"flow_type": "discovery", "flow_name": "once"});
    let first = send("k-1", body.clone(), "a").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    // Same body, members in another order: the same request.
    let again = send(
        "k-1",
        json!({"flow_name": "once", "flow_type": "discovery"}),
        "a",
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["flow_id"], first["flow_id"]);

    let other = send(
        "k-1",
        json!({"flow_type": "discovery", "flow_name": "twice"}),
        "a",
    )
    .await
    .unwrap();
    expect_problem(other, 409, "idempotency_key_reused").await;

    // Keys are per client account.
    let b: Value = send("k-1", body.clone(), "b")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(b["flow_id"], first["flow_id"]);

    // Concurrent repeats create exactly one flow.
    let futures: Vec<_> = (0..6).map(|_| send("k-par", body.clone(), "a")).collect();
    let results = futures::future::join_all(futures).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in results {
        let r = r.unwrap();
        assert_eq!(r.status(), 201);
        ids.insert(
            r.json::<Value>().await.unwrap()["flow_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: Value = ctx.get_json("/api/v1/flows", &ctx.a).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
on_both_backends!(idempotency);

async fn compatibility_layer(ctx: Ctx) {
    let res = ctx
        .req(
            Method::POST,
            "/api/v1/unified-discovery/flow/initialize",
            &ctx.a,
        )
        .json(&json!({
            "flow_name": "seed",
            "raw_data": [{"application_name": "crm"}, {"application_name": "erp"}],
            "configuration": {"mode": "fast"},
            "metadata": {"source": "seed"},
            "client_extra": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["status"], "initialized");
    assert_eq!(v["error"], Value::Null);
    assert!(v["message"].is_string());
    let id = v["flow_id"].as_str().unwrap().to_string();

    let s: Value = ctx
        .get_json(
            &format!("/api/v1/unified-discovery/flow/{id}/status"),
            &ctx.a,
        )
        .await;
    assert_eq!(s["flow_id"], id);
    assert_eq!(s["flow_type"], "discovery");
    assert_eq!(s["flow_name"], "seed");
    assert_eq!(s["status"], "initialized");
    assert_eq!(s["current_phase"], "data_import");
    assert_eq!(s["phases"], json!({"total": 6, "completed": 0}));
    assert_eq!(s["metadata"], json!({"source": "seed"}));
    assert_eq!(s["configuration"], json!({"mode": "fast"}));
    assert_eq!(
        s["state_data"]["initial_data"]["raw_data"][1]["application_name"],
        "erp"
    );
    assert!(s["created_at"].is_string() && s["updated_at"].is_string());

    let active: Value = ctx.get_json("/api/v1/discovery/flows/active", &ctx.a).await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["flow_id"], id);
    assert_eq!(active[0]["type"], "discovery");
    assert_eq!(active[0]["phases_completed"], 0);
    assert_eq!(
        active[0]["client_account_id"],
        ctx.a.client_account_id.to_string()
    );

    let p: Value = ctx
        .call_json(
            Method::POST,
            &format!("/api/v1/unified-discovery/flow/{id}/pause"),
            &ctx.a,
        )
        .await;
    assert_eq!(p["success"], true);
    assert_eq!(p["status"], "paused");
    let r: Value = ctx
        .call_json(
            Method::POST,
            &format!("/api/v1/unified-discovery/flow/{id}/resume"),
            &ctx.a,
        )
        .await;
    assert_eq!(r["status"], "initialized");
    let res = ctx
        .req(
            Method::POST,
            &format!("/api/v1/unified-discovery/flow/{id}/resume"),
            &ctx.a,
        )
        .send()
        .await
        .unwrap();
    expect_problem(res, 409, "illegal_transition").await;
    let d = ctx
        .req(
            Method::DELETE,
            &format!("/api/v1/unified-discovery/flow/{id}"),
            &ctx.a,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 200);
    assert_eq!(d.json::<Value>().await.unwrap()["success"], true);
    let res = ctx
        .req(
            Method::GET,
            &format!("/api/v1/unified-discovery/flow/{id}/status"),
            &ctx.a,
        )
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "not_found").await;
    let active: Value = ctx.get_json("/api/v1/discovery/flows/active", &ctx.a).await;
    assert_eq!(active, json!([]));

    // An empty object is a valid request (raw_data is optional); wrong types are not.
    let res = ctx
        .req(
            Method::POST,
            "/api/v1/unified-discovery/flow/initialize",
            &ctx.a,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for (body, field) in [
        (json!({"raw_data": "x"}), "raw_data"),
        (json!({"raw_data": [{"a": 1}, 2]}), "raw_data[1]"),
        (json!({"metadata": []}), "metadata"),
    ] {
        let res = ctx
            .req(
                Method::POST,
                "/api/v1/unified-discovery/flow/initialize",
                &ctx.a,
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field);
    }
}
on_both_backends!(compatibility_layer);
