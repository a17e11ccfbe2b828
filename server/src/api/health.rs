//! `/health` (liveness), `/ready` (readiness) and `/metrics` (Prometheus text).

use crate::api::AppState;
use crate::engine::port::WorkersStatus;
use crate::store::db::Db;
use crate::store::sql::{self, Tx};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::fmt::Write as _;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    /// healthy | unhealthy
    pub status: String,
    /// postgres | sqlite
    pub backend: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub service: String,
    pub version: String,
    pub database: DatabaseHealth,
    /// Injected defects this server was started with (empty for the correct server).
    pub defects: Vec<String>,
}

/// Liveness: answers while the process runs; reports the database and the active defects.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    let up = state.db.ping().await;
    Json(Health {
        status: "ok".into(),
        service: "flowgate-reference".into(),
        version: crate::VERSION.into(),
        database: DatabaseHealth {
            status: if up { "healthy" } else { "unhealthy" }.into(),
            backend: state.db.backend_name().into(),
        },
        defects: state
            .defects
            .names()
            .into_iter()
            .map(String::from)
            .collect(),
    })
}

/// Opens a transaction that may read every tenant (PostgreSQL: role `flowgate_engine`).
async fn cross_tenant(db: &Db) -> Result<Tx, sqlx::Error> {
    let mut tx = Tx::begin(db, false).await?;
    if tx.is_postgres() {
        tx.execute("SELECT set_config('role', 'flowgate_engine', true)", &[])
            .await?;
    }
    Ok(tx)
}

/// Flows a worker could claim now.
async fn queue_depth(db: &Db) -> Result<i64, sqlx::Error> {
    let mut tx = cross_tenant(db).await?;
    let row = tx
        .fetch_optional(
            "SELECT COUNT(*) AS n FROM flows WHERE runnable_at IS NOT NULL AND runnable_at <= $1 \
             AND status IN ('initialized', 'running')",
            &[sql::now().into()],
        )
        .await?;
    tx.commit().await?;
    row.map_or(Ok(0), |r| r.int("n"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// ready | not_ready
    pub status: String,
    pub database: DatabaseHealth,
    pub workers: WorkersStatus,
    /// Flows runnable now and not yet claimed; null when the database is unreachable.
    pub queue_depth: Option<i64>,
}

/// Readiness: 503 while the database is unreachable or the workers are stuck.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let depth = queue_depth(&state.db).await.ok();
    let up = depth.is_some();
    let workers = state.engine.readiness();
    let ready = up && workers.healthy;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" }.into(),
        database: DatabaseHealth {
            status: if up { "healthy" } else { "unhealthy" }.into(),
            backend: state.db.backend_name().into(),
        },
        workers,
        queue_depth: depth,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn flows_by_status(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut tx = cross_tenant(db).await?;
    let rows = tx
        .fetch_all(
            "SELECT status, COUNT(*) AS n FROM flows GROUP BY status ORDER BY status",
            &[],
        )
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| Ok((r.text("status")?, r.int("n")?)))
        .collect()
}

/// The standard process metrics of Prometheus client libraries (resident memory, open
/// file descriptors, CPU time), from `/proc/self` on Linux; elsewhere none are written.
/// A load phase reads `process_resident_memory_bytes` for its memory-drift figure.
fn process_metrics(out: &mut String) {
    let mut family = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    // man 5 proc: utime and stime are fields 14 and 15 (1-based, counting pid and the
    // parenthesised command name, which may hold spaces), in clock ticks of USER_HZ (100).
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) {
            let fields: Vec<&str> = after.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
            if let (Some(utime), Some(stime)) = (field(14), field(15)) {
                family(
                    "process_cpu_seconds_total",
                    "counter",
                    "Total user and system CPU time spent in seconds.",
                    format!("{}", (utime + stime) as f64 / 100.0),
                );
            }
        }
    }
    // `VmRSS:   12345 kB` (no page size to guess).
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        });
    if let Some(kib) = rss_kib {
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            (kib * 1024).to_string(),
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            dir.count().to_string(),
        );
    }
}

/// Prometheus text: HTTP requests and latency by route, flows by status, engine metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    state.metrics.render(&mut out);
    match flows_by_status(&state.db).await {
        Ok(rows) => {
            out.push_str("# HELP flowgate_flows Flows by status (all tenants).\n");
            out.push_str("# TYPE flowgate_flows gauge\n");
            for (status, n) in rows {
                let _ = writeln!(out, "flowgate_flows{{status=\"{status}\"}} {n}");
            }
            out.push_str("# HELP flowgate_database_up Whether the database answered.\n");
            out.push_str("# TYPE flowgate_database_up gauge\nflowgate_database_up 1\n");
        }
        Err(_) => {
            out.push_str("# HELP flowgate_database_up Whether the database answered.\n");
            out.push_str("# TYPE flowgate_database_up gauge\nflowgate_database_up 0\n");
        }
    }
    out.push_str(&state.engine.metrics_text());
    process_metrics(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
