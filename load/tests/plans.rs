//! Load scenarios become plans: the shipped scenarios load against the reference
//! profile, overrides apply, and plan errors name the problem. Nothing is sent.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use flowgate_harness::{PlaceholderEnv, Profile, Suite};
use flowgate_load::{LoadPlan, Overrides, StopAfter};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn reference_profile() -> Profile {
    Profile::read(
        &repo().join("scenarios/reference.target.yaml"),
        &PlaceholderEnv,
    )
    .unwrap()
}

#[test]
fn the_shipped_load_scenarios_load_and_plan() {
    let profile = reference_profile();
    let files = [
        repo().join("scenarios/load/concurrent_flows.yaml"),
        repo().join("scenarios/load/sustained_load.yaml"),
    ];
    let suite = Suite::read(&files).unwrap();
    suite.validate_against(&profile).unwrap();
    assert_eq!(suite.scenarios.len(), 2);
    let profile = Arc::new(profile);
    for s in &suite.scenarios {
        let plan = LoadPlan::from_scenario(s, profile.clone(), "run", &Overrides::default())
            .unwrap_or_else(|e| panic!("{}: {e}", s.file));
        assert_eq!(plan.identities, ["tenant_a", "tenant_b"]);
        assert!(!plan.thresholds.is_empty());
    }
    let concurrent = suite
        .scenarios
        .iter()
        .find(|s| s.id.ends_with("concurrent_flows"))
        .unwrap();
    let plan =
        LoadPlan::from_scenario(concurrent, profile.clone(), "run", &Overrides::default()).unwrap();
    assert_eq!(plan.users, 100);
    assert_eq!(plan.stop, StopAfter::Iterations(1));
    // `--duration 24h` turns the sustained phase into a soak.
    let sustained = suite
        .scenarios
        .iter()
        .find(|s| s.id.ends_with("sustained_load"))
        .unwrap();
    let soak = Overrides {
        duration: Some(Duration::from_secs(86_400)),
        ..Overrides::default()
    };
    let plan = LoadPlan::from_scenario(sustained, profile, "run", &soak).unwrap();
    assert_eq!(plan.stop, StopAfter::Duration(Duration::from_secs(86_400)));
    assert_eq!(plan.transactions.len(), 3);
}

#[test]
fn overrides_cap_a_bounded_run() {
    let text = scenario(
        r#"  users: 50
  duration: 10m
  transactions:
    - name: reads
      steps:
        - name: get fast
          request: { method: GET, path: /fast }
"#,
    );
    let loaded = load_scenario(&text).unwrap();
    let profile = Arc::new(profile("http://127.0.0.1:9"));
    let bounded = Overrides {
        max_users: Some(10),
        max_duration: Some(Duration::from_secs(5)),
        ..Overrides::default()
    };
    let plan = LoadPlan::from_scenario(&loaded, profile.clone(), "r", &bounded).unwrap();
    assert_eq!(plan.users, 10);
    assert_eq!(plan.stop, StopAfter::Duration(Duration::from_secs(5)));
    // No identities: the profile's default identity.
    assert_eq!(plan.identities, ["tenant_a"]);
    assert_eq!(plan.increase_rate, 10.0);
}

#[test]
fn an_identity_missing_from_the_profile_is_refused() {
    let text = scenario(
        r#"  users: 2
  iterations: 1
  identities: [tenant_a, tenant_zz]
  transactions:
    - name: reads
      steps:
        - name: get fast
          request: { method: GET, path: /fast }
"#,
    );
    let loaded = load_scenario(&text).unwrap();
    let profile = Arc::new(profile("http://127.0.0.1:9"));
    let err = LoadPlan::from_scenario(&loaded, profile, "r", &Overrides::default())
        .err()
        .unwrap();
    assert!(err.contains("tenant_zz"), "{err}");
}
