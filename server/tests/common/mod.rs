//! Shared set-up for the API tests: a server on a real database (a fresh PostgreSQL
//! database from `flowgate_testkit`, or a SQLite file in a temporary directory) with two
//! provisioned tenants, and a small HTTP client.

#![allow(dead_code)]

use flowgate_server::defects::Defects;
use flowgate_server::{
    provision_tenant, spawn_for_tests, ServerConfig, TenantCredentials, TestServer,
};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use sqlx::PgPool;

pub struct Ctx {
    pub server: TestServer,
    pub http: reqwest::Client,
    /// Tenant A has two engagements; the first is its default.
    pub a: TenantCredentials,
    pub b: TenantCredentials,
    _dir: Option<tempfile::TempDir>,
}

impl Ctx {
    pub async fn pg(pool: PgPool) -> Ctx {
        Self::pg_with(pool, Defects::none()).await
    }

    pub async fn pg_with(pool: PgPool, defects: Defects) -> Ctx {
        let config = ServerConfig {
            defects,
            workers: 0,
            ..ServerConfig::with_pg_pool(pool)
        };
        Self::start(config, None).await
    }

    /// As [`Ctx::pg`], with two engine workers running.
    pub async fn pg_with_engine(pool: PgPool) -> Ctx {
        let config = ServerConfig {
            workers: 2,
            ..ServerConfig::with_pg_pool(pool)
        };
        Self::start(config, None).await
    }

    pub async fn sqlite() -> Ctx {
        Self::sqlite_with(Defects::none()).await
    }

    pub async fn sqlite_with(defects: Defects) -> Ctx {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ServerConfig {
            defects,
            workers: 0,
            ..ServerConfig::with_sqlite_path(&dir.path().join("flowgate.db"))
        };
        Self::start(config, Some(dir)).await
    }

    /// A SQLite-backed server whose configuration `tune` adjusts (timeouts, limits).
    pub async fn sqlite_tuned(tune: impl FnOnce(&mut ServerConfig)) -> Ctx {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig {
            workers: 0,
            ..ServerConfig::with_sqlite_path(&dir.path().join("flowgate.db"))
        };
        tune(&mut config);
        Self::start(config, Some(dir)).await
    }

    async fn start(config: ServerConfig, dir: Option<tempfile::TempDir>) -> Ctx {
        let server = spawn_for_tests(config).await.expect("server starts");
        let a = provision_tenant(&server.db, "tenant-a", &["alpha", "beta"])
            .await
            .expect("tenant a");
        let b = provision_tenant(&server.db, "tenant-b", &[])
            .await
            .expect("tenant b");
        Ctx {
            server,
            http: reqwest::Client::new(),
            a,
            b,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url, path)
    }

    /// A request with `who`'s key (and no engagement header: the default engagement).
    pub fn req(&self, method: Method, path: &str, who: &TenantCredentials) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&who.api_key)
    }

    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Creates a discovery flow as `who`; returns its id.
    /// `method path` (no body) as `who`, the answer's body as JSON.
    pub async fn call_json(&self, method: Method, path: &str, who: &TenantCredentials) -> Value {
        let res = self.req(method.clone(), path, who).send().await;
        res.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"))
    }

    /// `GET path` as `who`, its body as JSON.
    pub async fn get_json(&self, path: &str, who: &TenantCredentials) -> Value {
        let res = self.req(Method::GET, path, who).send().await;
        res.unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// `GET path` with no credentials, its body as JSON.
    pub async fn anon_json(&self, path: &str) -> Value {
        let res = self.anon(Method::GET, path).send().await;
        res.unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    pub async fn create(&self, who: &TenantCredentials, body: Value) -> String {
        let res = self
            .req(Method::POST, "/api/v1/flows", who)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 201, "create failed: {:?}", res.text().await);
        let v: Value = res.json().await.expect("json");
        v["flow_id"].as_str().expect("flow_id").to_string()
    }
}

/// Asserts a problem+json error with `status` and `code`; returns the body.
pub async fn expect_problem(res: Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let header_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "wrong status; body: {text}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}; body: {text}"
    );
    let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(body["code"], code, "wrong code: {body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], format!("urn:flowgate:problem:{code}"));
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    let rid = body["request_id"].as_str().expect("request_id");
    assert_eq!(
        Some(rid.to_string()),
        header_id,
        "request_id equals x-request-id"
    );
    body
}

/// Runs a test body on PostgreSQL (fresh database) and on SQLite (temp file).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn postgres() {
                let Some(db) = flowgate_testkit::TestDatabase::create("flowgate_api").await else {
                    return;
                };
                super::$name(super::common::Ctx::pg(db.pool().await).await).await
            }

            #[tokio::test]
            async fn sqlite() {
                super::$name(super::common::Ctx::sqlite().await).await
            }
        }
    };
}
