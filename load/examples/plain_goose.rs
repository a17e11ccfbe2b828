//! Plain goose, the benchmark's baseline: one transaction doing `GET /health`.
//!
//! Usage: plain_goose BASE_URL USERS SECONDS
//! Prints `requests=N seconds=S rps=R` on stdout.

use std::time::Instant;

use goose::config::GooseConfiguration;
use goose::prelude::*;

async fn health(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/health").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(host), Some(users), Some(seconds)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: plain_goose BASE_URL USERS SECONDS".into());
    };
    let users: usize = users.parse()?;
    let mut config = GooseConfiguration::default();
    config.host = Some(host);
    config.users = Some(users);
    config.increase_rate = Some(users.to_string());
    config.run_time = Some(seconds);
    config.no_reset_metrics = true;
    config.quiet = 1;
    config.no_telnet = true;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_status_codes = true;
    let started = Instant::now();
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("health").register_transaction(transaction!(health)))
        .execute()
        .await?;
    let wall = started.elapsed().as_secs_f64();
    let requests: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    println!(
        "requests={requests} seconds={wall:.2} rps={:.1}",
        requests as f64 / wall
    );
    Ok(())
}
