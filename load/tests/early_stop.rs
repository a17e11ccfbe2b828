//! Early stop, in a test binary of its own: it pulls goose's kill switch, which is
//! process-wide, and would stop the phases of tests running beside it.

mod common;

use common::*;
use flowgate_reports::Outcome;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase_that_cannot_pass_stops_early_saying_why() {
    let (base, _) = serve(0).await; // flows stay `running` for ever
    let text = scenario(&format!(
        "  users: 3\n  increase_rate: 100\n  duration: 60s\n{}            track: \"$.status\"\n            state_machine: flow\n  thresholds: [\"flow_completion_rate >= 90%\"]\n",
        CREATE_AND_POLL.replace("TIMEOUT", "30s")
    ));
    // The profile's liveness bound ends each poll after 300 ms in `running`.
    let profile = flowgate_harness::Profile::parse(
        &format!(
            "name: test\nbase_url: {base}\ndefault_identity: a\nidentities:\n  a: {{ headers: {{}} }}\nstate_machines:\n  flow:\n    terminal: [completed]\n    \
             transitions: {{ initialized: [running], running: [completed] }}\n    \
             max_dwell: {{ running: 300ms }}\n"
        ),
        "test.target.yaml",
        &flowgate_harness::EnvMap(std::collections::HashMap::new()),
    )
    .unwrap();
    let loaded = load_scenario(&text).unwrap();
    let started = std::time::Instant::now();
    let result = flowgate_load::run_scenario(
        &loaded,
        &profile,
        "run-1",
        &flowgate_load::Overrides::default(),
        &flowgate_load::LoadOptions {
            stop_early: true,
            ..Default::default()
        },
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "a 60 s phase that cannot pass ends in seconds"
    );
    assert_eq!(result.outcome, Outcome::Failed, "{:?}", result.notes);
    assert!(
        result.notes[0].starts_with("stopped early: `flow_completion_rate >= 90%` beyond recovery"),
        "{:?}",
        result.notes
    );
}
