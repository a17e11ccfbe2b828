//! The benchmark's target: `GET /health` answering a small JSON document, on the port
//! given as the first argument (0 picks a free one). Prints the address it serves on.

use axum::{routing::get, Json, Router};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0);
    let app = Router::new().route(
        "/health",
        get(|| async { Json(json!({"status": "healthy", "service": "bench-target"})) }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
