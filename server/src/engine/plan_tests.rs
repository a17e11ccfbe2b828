//! The engine's per-claim probes stay index probes on PostgreSQL whatever the statistics
//! say: planned after an ANALYZE taken while every flow was runnable, with most of them
//! finished since, a probe without its ORDER BY became a sequential scan reading past every
//! finished flow on each claim (1 700 rows per claim on average in `bench/engine.sh`).

use super::handoff::others_waiting;
use super::lease::candidates_sql;
use crate::store::plan_tests::{migrated_database, plan_of};
use crate::store::sql;
use crate::store::tenants::provision_tenant;

#[tokio::test]
async fn the_claim_probes_do_not_scan_the_flows_table() {
    let Some((_test_db, db)) = migrated_database().await else {
        return;
    };
    let a = provision_tenant(&db, "a", &[]).await.expect("a");
    let b = provision_tenant(&db, "b", &[]).await.expect("b");
    // A's 5 000 flows, all runnable when the statistics are taken; then all but ten
    // finish, the oldest first, as an engine finishes them.
    sql::fetch_optional(
        &db,
        "INSERT INTO flows (id, client_account_id, engagement_id, flow_type, status, runnable_at) \
         SELECT gen_random_uuid(), $1, $2, 'discovery', 'initialized', now() - interval '1 hour' \
         FROM generate_series(1, 5000)",
        &[a.client_account_id.into(), a.engagements[0].id.into()],
    )
    .await
    .expect("flows");
    sql::fetch_optional(&db, "ANALYZE flows", &[])
        .await
        .expect("analyze");
    sql::fetch_optional(
        &db,
        "UPDATE flows SET status = 'completed', runnable_at = NULL \
         WHERE id IN (SELECT id FROM flows ORDER BY ctid LIMIT 4990)",
        &[],
    )
    .await
    .expect("finish");
    // The hand-off of B's flow asks whether another account (A) waits.
    let others = others_waiting(true).replace("$6", &format!("'{}'::uuid", b.client_account_id));
    for (name, query) in [
        ("the claim's candidates", candidates_sql(true, "now()")),
        (
            "the hand-off's others-waiting",
            format!("SELECT * FROM ({others}) o"),
        ),
    ] {
        let plan = plan_of(&db, &query).await;
        assert!(
            !plan
                .iter()
                .any(|(node, rel)| node == "Seq Scan" && rel == "flows"),
            "{name} scans the flows table: {plan:?}"
        );
    }
}
