//! Each HTTP-side defect changes behaviour exactly as named (and only when named).

mod common;

use common::Ctx;
use flowgate_server::defects::{Defect, Defects};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn only(d: Defect) -> Defects {
    [d].into_iter().collect()
}

#[tokio::test]
async fn health_lists_the_named_defects() {
    let ctx = Ctx::sqlite_with(
        [Defect::TenantLeak, Defect::OpaqueErrors]
            .into_iter()
            .collect(),
    )
    .await;
    let h: Value = ctx.anon_json("/health").await;
    assert_eq!(h["defects"], json!(["tenant-leak", "opaque-errors"]));
}

async fn tenant_leak(ctx: Ctx) {
    let id = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.b)
        .header("X-Client-Account-ID", ctx.a.client_account_id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the forged header is trusted");
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "without the header the key still decides"
    );
}

#[tokio::test]
async fn tenant_leak_postgres() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    tenant_leak(Ctx::pg_with(pool, only(Defect::TenantLeak)).await).await
}

#[tokio::test]
async fn tenant_leak_sqlite() {
    tenant_leak(Ctx::sqlite_with(only(Defect::TenantLeak)).await).await
}

async fn list_ignores_tenant(ctx: Ctx) {
    let id = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let list: Value = ctx.get_json("/api/v1/flows", &ctx.b).await;
    assert_eq!(list["items"][0]["flow_id"], id);
    let active: Value = ctx.get_json("/api/v1/discovery/flows/active", &ctx.b).await;
    assert_eq!(active[0]["flow_id"], id);
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "only the lists leak");
}

#[tokio::test]
async fn list_ignores_tenant_postgres() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    list_ignores_tenant(Ctx::pg_with(pool, only(Defect::ListIgnoresTenant)).await).await
}

#[tokio::test]
async fn list_ignores_tenant_sqlite() {
    list_ignores_tenant(Ctx::sqlite_with(only(Defect::ListIgnoresTenant)).await).await
}

#[tokio::test]
async fn opaque_errors() {
    let ctx = Ctx::sqlite_with(only(Defect::OpaqueErrors)).await;
    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .json(&json!({"flow_type": "teleport"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false})
    );
    let res = ctx.anon(Method::GET, "/api/v1/flows").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false})
    );
}

#[tokio::test]
async fn server_error_on_bad_input() {
    let ctx = Ctx::sqlite_with(only(Defect::ServerErrorOnBadInput)).await;
    let res = ctx
        .req(Method::POST, "/api/v1/flows", &ctx.a)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let text = res.text().await.unwrap();
    assert!(text.contains("Traceback"), "{text}");
    // Not a bad-input error: unchanged.
    let res = ctx
        .req(
            Method::GET,
            &format!("/api/v1/flows/{}", uuid::Uuid::new_v4()),
            &ctx.a,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn problem_without_code() {
    let ctx = Ctx::sqlite_with(only(Defect::ProblemWithoutCode)).await;
    let res = ctx
        .req(Method::GET, "/api/v1/flows/nope", &ctx.a)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("code").is_none(), "{body}");
    assert_eq!(body["status"], 400);
}

#[tokio::test]
async fn slow_responses() {
    let ctx = Ctx::sqlite_with(only(Defect::SlowResponses)).await;
    let started = Instant::now();
    let res = ctx
        .anon(Method::GET, "/api/v1/health")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn duplicate_creates() {
    let ctx = Ctx::sqlite_with(only(Defect::DuplicateCreates)).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let v: Value = ctx
            .req(Method::POST, "/api/v1/flows", &ctx.a)
            .header("Idempotency-Key", "same")
            .json(&json!({"flow_type": "discovery"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(v["flow_id"].as_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn illegal_transitions() {
    let ctx = Ctx::sqlite_with(only(Defect::IllegalTransitions)).await;
    let id = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    for (action, status) in [
        ("cancel", "cancelled"),
        ("resume", "running"),
        ("cancel", "cancelled"),
        ("cancel", "cancelled"),
    ] {
        let res = ctx
            .req(
                Method::POST,
                &format!("/api/v1/flows/{id}/{action}"),
                &ctx.a,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{action}");
        assert_eq!(res.json::<Value>().await.unwrap()["status"], status);
    }
}
