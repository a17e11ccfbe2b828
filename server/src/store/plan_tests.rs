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

#[tokio::test]
async fn reads_of_one_flow_use_the_primary_key_without_statistics() {
    let Some(test_db) = flowgate_testkit::TestDatabase::create("flowgate_unit").await else {
        return;
    };
    let db = Db::from_pg_pool(test_db.pool().await)
        .await
        .expect("migrations");
    let a = crate::store::tenants::provision_tenant(&db, "a", &[])
        .await
        .expect("a");
    let (account, engagement) = (a.client_account_id, a.engagements[0].id);
    // 5 000 flows of one engagement, and no ANALYZE (autovacuum is off on some machines,
    // and a new database has no statistics until it runs).
    sql::fetch_optional(
        &db,
        "INSERT INTO flows (id, client_account_id, engagement_id, flow_type, status) \
         SELECT gen_random_uuid(), $1, $2, 'discovery', 'initialized' \
         FROM generate_series(1, 5000)",
        &[account.into(), engagement.into()],
    )
    .await
    .expect("flows");
    let id = sql::fetch_optional(&db, "SELECT id FROM flows LIMIT 1", &[])
        .await
        .expect("one")
        .expect("a flow")
        .uuid("id")
        .expect("id");
    let literal = format!("SELECT id FROM flows WHERE {ONE_FLOW_IN_SCOPE}")
        .replace("$1", &format!("'{id}'::uuid"))
        .replace("$2", &format!("'{account}'::uuid"))
        .replace("$3", &format!("'{engagement}'::uuid"));
    let plan = plan_json(&db, &literal).await.to_string();
    assert!(
        plan.contains("\"flows_pkey\"") && !plan.contains("flows_tenant_list"),
        "the read of one flow does not use the primary key: {plan}"
    );
    // The function's own plans (custom, then generic after five calls) are not visible to
    // EXPLAIN: count what its calls read from the tenant list's index in one transaction.
    let mut tx = sql::Tx::begin(&db, true).await.expect("begin");
    for _ in 0..7 {
        tx.fetch_all(
            "SELECT * FROM flowgate_api.read_flow($1, $2, $3)",
            &[account.into(), id.into(), engagement.into()],
        )
        .await
        .expect("read_flow");
    }
    // Counted per index: entries returned (an index that matches only part of the terms
    // still returns just the one flow, after reading through the rest).
    let by_index = tx
        .fetch_optional(
            "SELECT pg_stat_get_xact_tuples_returned('flows_pkey'::regclass) AS pkey, \
             pg_stat_get_xact_tuples_returned('flows_tenant_list'::regclass) AS tenant_list",
            &[],
        )
        .await
        .expect("stats")
        .expect("a row");
    let (pkey, tenant_list) = (
        by_index.int("pkey").expect("pkey"),
        by_index.int("tenant_list").expect("tenant_list"),
    );
    assert!(
        pkey >= 7 && tenant_list == 0,
        "seven reads of one flow: {pkey} entries from the primary key, \
         {tenant_list} from the tenant list's index"
    );
}
