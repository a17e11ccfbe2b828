//! Tenant isolation over HTTP on both backends, and PostgreSQL row-level security checked
//! directly as the application role.

mod common;

use common::{expect_problem, Ctx};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

async fn other_tenant_gets_404_everywhere(ctx: Ctx) {
    let id = ctx
        .create(
            &ctx.a,
            json!({"flow_type": "discovery", "flow_name": "a-secret"}),
        )
        .await;
    let compat = ctx
        .req(
            Method::POST,
            "/api/v1/unified-discovery/flow/initialize",
            &ctx.a,
        )
        .json(&json!({"flow_name": "a-compat"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["flow_id"]
        .as_str()
        .unwrap()
        .to_string();

    for flow in [&id, &compat] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/api/v1/flows/{flow}"), None),
            (Method::GET, format!("/api/v1/flows/{flow}/events"), None),
            (Method::DELETE, format!("/api/v1/flows/{flow}"), None),
            (Method::POST, format!("/api/v1/flows/{flow}/pause"), None),
            (Method::POST, format!("/api/v1/flows/{flow}/resume"), None),
            (Method::POST, format!("/api/v1/flows/{flow}/cancel"), None),
            (Method::POST, format!("/api/v1/flows/{flow}/retry"), None),
            (
                Method::POST,
                format!("/api/v1/flows/{flow}/input"),
                Some(json!({"approved": true})),
            ),
            (
                Method::GET,
                format!("/api/v1/unified-discovery/flow/{flow}/status"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/unified-discovery/flow/{flow}/pause"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/unified-discovery/flow/{flow}/resume"),
                None,
            ),
            (
                Method::DELETE,
                format!("/api/v1/unified-discovery/flow/{flow}"),
                None,
            ),
        ];
        for (method, path, body) in cases {
            // Tenant B, also when it claims to be tenant A through the old header.
            for forge in [false, true] {
                let mut r = ctx.req(method.clone(), &path, &ctx.b);
                if forge {
                    r = r.header("X-Client-Account-ID", ctx.a.client_account_id.to_string());
                }
                if let Some(b) = &body {
                    r = r.json(b);
                }
                let res = r.send().await.unwrap();
                let p = expect_problem(res, 404, "not_found").await;
                assert!(!p.to_string().contains("a-secret"), "{p}");
            }
        }
    }

    // Lists never show another tenant's flows.
    let list: Value = ctx.get_json("/api/v1/flows", &ctx.b).await;
    assert_eq!(list["items"], json!([]));
    let active: Value = ctx.get_json("/api/v1/discovery/flows/active", &ctx.b).await;
    assert_eq!(active, json!([]));

    // Tenant A's flows are untouched by all of that.
    let f: Value = ctx.get_json(&format!("/api/v1/flows/{id}"), &ctx.a).await;
    assert_eq!(f["status"], "initialized");
    let ev: Value = ctx
        .get_json(&format!("/api/v1/flows/{id}/events"), &ctx.a)
        .await;
    assert_eq!(ev["items"].as_array().unwrap().len(), 1);
    let list: Value = ctx.get_json("/api/v1/flows", &ctx.a).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
on_both_backends!(other_tenant_gets_404_everywhere);

async fn other_engagement_of_same_account_gets_404(ctx: Ctx) {
    let id = ctx.create(&ctx.a, json!({"flow_type": "planning"})).await;
    let beta = ctx.a.engagements[1].id.to_string();
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.a)
        .header("X-Engagement-ID", &beta)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "not_found").await;
    let res = ctx
        .req(Method::POST, &format!("/api/v1/flows/{id}/cancel"), &ctx.a)
        .header("X-Engagement-ID", &beta)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "not_found").await;
    let list: Value = ctx
        .req(Method::GET, "/api/v1/flows", &ctx.a)
        .header("X-Engagement-ID", &beta)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    let alpha = ctx.a.engagements[0].id.to_string();
    let res = ctx
        .req(Method::GET, &format!("/api/v1/flows/{id}"), &ctx.a)
        .header("X-Engagement-ID", &alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the default engagement named explicitly");
}
on_both_backends!(other_engagement_of_same_account_gets_404);

/// Connected as the application role with tenant A set, a query with no WHERE sees only
/// tenant A's rows; with no tenant set it sees none.
#[tokio::test]
async fn row_level_security_hides_other_tenants_without_a_where() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    let ctx = Ctx::pg(pool.clone()).await;
    let a1 = ctx.create(&ctx.a, json!({"flow_type": "discovery"})).await;
    let a2 = ctx.create(&ctx.a, json!({"flow_type": "finops"})).await;
    let b1 = ctx.create(&ctx.b, json!({"flow_type": "discovery"})).await;

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE flowgate_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('flowgate.client_account_id', $1, true)")
        .bind(ctx.a.client_account_id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query("SELECT id::text AS id FROM flows ORDER BY created_at")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    assert_eq!(ids, [a1.clone(), a2.clone()]);
    assert!(!ids.contains(&b1));
    for table in ["flow_phases", "flow_events", "engagements"] {
        let foreign: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE client_account_id <> $1::uuid"
        ))
        .bind(ctx.a.client_account_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(foreign, 0, "{table} leaks another tenant's rows");
        let own: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert!(own > 0, "{table}: tenant A sees its own rows");
    }
    // Writing a row for another tenant is refused by the policy's WITH CHECK.
    let err = sqlx::query("UPDATE flows SET flow_name = 'x' WHERE id = $1::uuid")
        .bind(&b1)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        err.rows_affected(),
        0,
        "tenant B's row is invisible to updates"
    );
    tx.rollback().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE flowgate_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flows")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0, "no tenant set: no rows");
    tx.rollback().await.unwrap();

    // The superuser connection sees all three: the rows exist.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM flows")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

/// The API's one-statement read and create (`flowgate_api.read_flow`, `create_flow`), like
/// every function of that schema, run as the application role, so row-level security
/// applies inside them; the read answers nothing across tenants.
#[tokio::test]
async fn the_api_functions_run_under_row_level_security() {
    let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_test").await else {
        return;
    };
    let pool = db.pool().await;
    let ctx = Ctx::pg(pool.clone()).await;
    let b1 = ctx.create(&ctx.b, json!({"flow_type": "discovery"})).await;
    let functions: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT p.proname::text, proowner::regrole::text, prosecdef FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'flowgate_api' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let names: Vec<&str> = functions.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["create_flow", "read_flow"]);
    for (name, owner, security_definer) in &functions {
        assert_eq!(owner, "flowgate_app", "{name}");
        assert!(
            security_definer,
            "{name} runs as its owner, not as the caller"
        );
    }
    let engagement_b: String =
        sqlx::query_scalar("SELECT engagement_id::text FROM flows WHERE id = $1::uuid")
            .bind(&b1)
            .fetch_one(&pool)
            .await
            .unwrap();
    let read = |account: String| {
        let pool = pool.clone();
        let (flow, engagement) = (b1.clone(), engagement_b.clone());
        async move {
            sqlx::query("SELECT id FROM flowgate_api.read_flow($1::uuid, $2::uuid, $3::uuid)")
                .bind(account)
                .bind(flow)
                .bind(engagement)
                .fetch_all(&pool)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        read(ctx.b.client_account_id.to_string()).await,
        7,
        "b's flow's row, then its 6 phases"
    );
    assert_eq!(
        read(ctx.a.client_account_id.to_string()).await,
        0,
        "a cannot read it"
    );
}
