//! `flowgate load` without the rest of the binary, for bench/load.sh when the full release
//! binary (with the reference server) is not built: the same loader, plan and engine.
//!
//! Usage: flowgate_load SCENARIO PROFILE USERS SECONDS
//! Prints the summary, then `rps=R` (the "all" row) on the last line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flowgate_harness::{ProcessEnv, Profile, Suite};
use flowgate_load::{render_summary, run_load, LoadOptions, LoadPlan, Overrides};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, profile, users, seconds] = args.as_slice() else {
        return Err("usage: flowgate_load SCENARIO PROFILE USERS SECONDS".into());
    };
    let profile =
        Profile::read(PathBuf::from(profile).as_path(), &ProcessEnv).map_err(|e| e.to_string())?;
    let suite = Suite::read(&[PathBuf::from(scenario)]).map_err(|e| e.to_string())?;
    let loaded = suite.scenarios.first().ok_or("no scenario")?;
    let overrides = Overrides {
        users: Some(users.parse()?),
        duration: Some(Duration::from_secs(seconds.parse()?)),
        ..Overrides::default()
    };
    let plan = LoadPlan::from_scenario(loaded, Arc::new(profile), "bench", &overrides)?;
    let result = run_load(plan, LoadOptions::default()).await?;
    print!("{}", render_summary(&result));
    let all = result.requests.last().ok_or("no requests")?;
    println!("rps={}", all.rps);
    Ok(())
}
