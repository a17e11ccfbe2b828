//! Reads of one flow use the primary key on PostgreSQL whatever the statistics say (see
//! [`crate::store::ONE_FLOW_IN_SCOPE`]); the helpers read a statement's plan.

use crate::store::db::Db;
use crate::store::sql;
use crate::store::ONE_FLOW_IN_SCOPE;
use serde_json::Value;

/// Every (node type, relation) of an `EXPLAIN (FORMAT JSON)` plan.
pub(crate) fn scans(plan: &Value, out: &mut Vec<(String, String)>) {
    if let Some(node) = plan.get("Node Type").and_then(Value::as_str) {
        let relation = plan
            .get("Relation Name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push((node.to_string(), relation.to_string()));
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        scans(child, out);
    }
}

/// The `EXPLAIN (FORMAT JSON)` document of `query`.
pub(crate) async fn plan_json(db: &Db, query: &str) -> Value {
    let row = sql::fetch_optional(db, &format!("EXPLAIN (FORMAT JSON) {query}"), &[])
        .await
        .expect("explain")
        .expect("a plan");
    row.json("QUERY PLAN").expect("json plan")
}

pub(crate) async fn plan_of(db: &Db, query: &str) -> Vec<(String, String)> {
    let doc = plan_json(db, query).await;
    let mut out = Vec::new();
    scans(&doc[0]["Plan"], &mut out);
    out
}

/// A fresh PostgreSQL database with the migrations run (None where no PostgreSQL is
/// configured); the database lives as long as the first value.
pub(crate) async fn migrated_database() -> Option<(flowgate_testkit::TestDatabase, Db)> {
    let test_db = flowgate_testkit::TestDatabase::create("flowgate_unit").await?;
    let db = Db::from_pg_pool(test_db.pool().await)
        .await
        .expect("migrations");
    Some((test_db, db))
}

/// Scans started on each of `flows`' indexes, and sequential scans of `flows`, so far in
/// the current transaction.
const SCANS: &str = "SELECT pg_stat_get_xact_numscans('flows_pkey'::regclass) AS pkey, \
     pg_stat_get_xact_numscans('flows_engagement_list'::regclass) AS engagement_list, \
     pg_stat_get_xact_numscans('flows'::regclass) AS seq";

#[tokio::test]
async fn reads_of_one_flow_use_the_primary_key_without_statistics() {
    let Some((_test_db, db)) = migrated_database().await else {
        return;
    };
    let a = crate::store::tenants::provision_tenant(&db, "a", &[])
        .await
        .expect("a");
    let (account, engagement) = (a.client_account_id, a.engagements[0].id);
    let id = uuid::Uuid::now_v7();
    // `n` flows of one engagement with six phases each, the first of them `id` when n = 1.
    let add_flows = "WITH f AS (INSERT INTO flows (id, client_account_id, engagement_id, \
         flow_type, status) SELECT CASE WHEN $3 = 1 THEN $4 ELSE gen_random_uuid() END, $1, $2, \
         'discovery', 'initialized' FROM generate_series(1, $3) RETURNING id) \
         INSERT INTO flow_phases (flow_id, client_account_id, idx, name) \
         SELECT f.id, $1, i, 'p' || i FROM f, generate_series(0, 5) AS i";
    let read = "SELECT * FROM flowgate_api.read_flow($1, $2, $3)";
    let params = [account.into(), id.into(), engagement.into()];
    // One connection throughout (a transaction): read_flow's plans are cached per
    // connection, made here while the tables hold one flow, as in a new database; they are
    // still used once 5 000 more flows are stored, as long as nothing runs ANALYZE
    // (autovacuum is off on some machines, the bench machine among them).
    let mut tx = sql::Tx::begin(&db, true).await.expect("begin");
    tx.execute(
        add_flows,
        &[account.into(), engagement.into(), 1i64.into(), id.into()],
    )
    .await
    .expect("one flow");
    for _ in 0..7 {
        tx.fetch_all(read, &params).await.expect("read_flow");
    }
    tx.execute(
        add_flows,
        &[account.into(), engagement.into(), 5000i64.into(), id.into()],
    )
    .await
    .expect("5 000 flows");
    let before = tx
        .fetch_optional(SCANS, &[])
        .await
        .expect("stats")
        .expect("row");
    for _ in 0..7 {
        let rows = tx.fetch_all(read, &params).await.expect("read_flow");
        assert_eq!(rows.len(), 7, "the flow's row and its six phases");
    }
    let after = tx
        .fetch_optional(SCANS, &[])
        .await
        .expect("stats")
        .expect("row");
    let delta = |col: &str| after.int(col).expect("n") - before.int(col).expect("n");
    let (pkey, list, seq) = (delta("pkey"), delta("engagement_list"), delta("seq"));
    assert!(
        pkey == 7 && list == 0 && seq == 0,
        "seven reads of one flow: {pkey} primary key scans, {list} of the engagement list's \
         index, {seq} sequential scans"
    );
    tx.end_read();

    // The API's other reads of one flow, as planned on these 5 001 flows without statistics.
    let literal = format!("SELECT id FROM flows WHERE {ONE_FLOW_IN_SCOPE}")
        .replace("$1", &format!("'{id}'::uuid"))
        .replace("$2", &format!("'{account}'::uuid"))
        .replace("$3", &format!("'{engagement}'::uuid"));
    let plan = plan_json(&db, &literal).await.to_string();
    assert!(
        plan.contains("\"flows_pkey\"") && !plan.contains("flows_engagement_list"),
        "the read of one flow does not use the primary key: {plan}"
    );
}
