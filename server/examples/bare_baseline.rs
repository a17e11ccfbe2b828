//! The bench baseline: a bare axum + sqlx server that selects one row by key and inserts one
//! jsonb row, with nothing else (no auth, no tenancy, no RLS, no events). `bench/api.sh`
//! measures the reference server's endpoints as ratios of these two.
//!
//! Usage: DATABASE_URL=postgres://... cargo run --release -p flowgate-server \
//!   --example bare_baseline -- 127.0.0.1:8091

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

async fn read(State(pool): State<PgPool>, Path(id): Path<Uuid>) -> Result<Json<Value>, StatusCode> {
    let row: Option<(Uuid, sqlx::types::Json<Value>)> =
        sqlx::query_as("SELECT id, body FROM bare_baseline WHERE id = $1")
            .bind(id)
            .fetch_optional(&pool)
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let (id, body) = row.ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(json!({"id": id, "body": body.0})))
}

async fn create(
    State(pool): State<PgPool>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), StatusCode> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO bare_baseline (id, body) VALUES ($1, $2)")
        .bind(id)
        .bind(sqlx::types::Json(&body))
        .execute(&pool)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bare_baseline (id uuid PRIMARY KEY, body jsonb NOT NULL)",
    )
    .execute(&pool)
    .await?;
    let seed = Uuid::now_v7();
    sqlx::query("INSERT INTO bare_baseline (id, body) VALUES ($1, '{\"seed\": true}')")
        .bind(seed)
        .execute(&pool)
        .await?;
    // The bench script reads the seeded id from the first line of stdout.
    println!("{seed}");
    let app = Router::new()
        .route("/rows/{id}", get(read))
        .route("/rows", post(create))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
