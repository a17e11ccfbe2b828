//! The two reads of one flow agree on PostgreSQL: `flowgate_api.read_flow` (the API's GET,
//! the flow's row then its phases) and [`load_flow`] (inside a transaction, the join), for
//! a flow part-way through, one without phase rows, and the flows the caller must not see.

use crate::domain::catalogue;
use crate::domain::FlowView;
use crate::store::flows::{create_flow, load_flow, read_flow, Created, NewFlow};
use crate::store::plan_tests::migrated_database;
use crate::store::sql;
use crate::store::tenants::provision_tenant;
use crate::store::{begin_scoped, Role, Scope};
use serde_json::{json, Value};
use uuid::Uuid;

async fn create(db: &crate::store::db::Db, scope: &Scope) -> Uuid {
    let new = NewFlow {
        spec: catalogue::flow_type("discovery").expect("discovery"),
        flow_name: Some("read".into()),
        configuration: json!({ "z": 1, "a": [true, null, 2.5], "é": "ü" }),
        initial_data: json!({ "raw_data": [{ "application_name": "crm" }] }),
        metadata: json!({ "owner": "qa" }),
        idempotency: None,
    };
    match create_flow(db, scope, &new).await {
        Ok(Created::New(flow)) => flow.flow_id,
        _ => panic!("create"),
    }
}

/// Runs `statement` (as the superuser, past row-level security) with the flow's id as `$1`.
async fn on_flow(db: &crate::store::db::Db, statement: &str, id: Uuid) {
    sql::execute(db, statement, &[id.into()])
        .await
        .expect(statement);
}

/// Everything a read answers, the hidden initial data included.
fn shown(flow: &FlowView) -> Value {
    json!({ "view": serde_json::to_value(flow).expect("json"), "initial_data": flow.initial_data })
}

async fn both_reads(
    db: &crate::store::db::Db,
    scope: &Scope,
    id: Uuid,
) -> (Option<Value>, Option<Value>) {
    let by_function = read_flow(db, scope, id).await.expect("read_flow");
    let mut tx = begin_scoped(db, *scope, false, Role::App)
        .await
        .expect("tx");
    let by_join = load_flow(&mut tx, scope, id, false)
        .await
        .expect("load_flow");
    tx.rollback().await.expect("rollback");
    (by_function.as_ref().map(shown), by_join.as_ref().map(shown))
}

#[tokio::test]
async fn the_function_and_the_join_read_the_same_flow() {
    let Some((_test_db, db)) = migrated_database().await else {
        return;
    };
    let a = provision_tenant(&db, "a", &["main", "second"])
        .await
        .expect("a");
    let b = provision_tenant(&db, "b", &[]).await.expect("b");
    let scope_a = Scope {
        account: a.client_account_id,
        engagement: a.engagements[0].id,
    };
    let part_way = create(&db, &scope_a).await;
    // Part-way: the first phase done with an output, the second running, a flow error set.
    for statement in [
        "UPDATE flows SET status = 'running', current_phase_index = 1, \
         error = '{\"code\": \"x\"}' WHERE id = $1",
        "UPDATE flow_phases SET status = 'completed', attempts = 1, started_at = now(), \
         completed_at = now(), duration_ms = 12, output = '{\"found\": [1, 2]}' \
         WHERE flow_id = $1 AND idx = 0",
        "UPDATE flow_phases SET status = 'running', attempts = 2, started_at = now(), \
         error = 'retried' WHERE flow_id = $1 AND idx = 1",
    ] {
        on_flow(&db, statement, part_way).await;
    }
    let without_phases = create(&db, &scope_a).await;
    on_flow(
        &db,
        "DELETE FROM flow_phases WHERE flow_id = $1",
        without_phases,
    )
    .await;

    for id in [part_way, without_phases] {
        let (by_function, by_join) = both_reads(&db, &scope_a, id).await;
        let by_function = by_function.expect("the function reads the flow");
        assert_eq!(Some(&by_function), by_join.as_ref(), "flow {id}");
        let phases = by_function["view"]["phases"]
            .as_array()
            .expect("phases")
            .len();
        let expected = if id == part_way {
            catalogue::flow_type("discovery")
                .expect("discovery")
                .phases
                .len()
        } else {
            0
        };
        assert_eq!(phases, expected, "flow {id}");
    }
    let (part, _) = both_reads(&db, &scope_a, part_way).await;
    let part = part.expect("part-way");
    assert_eq!(
        part["view"]["phases"][0]["output"],
        json!({ "found": [1, 2] })
    );
    assert_eq!(part["view"]["phases"][1]["status"], "running");

    // Neither read shows another tenant's flow, another engagement's, or a deleted one.
    let other_tenant = Scope {
        account: b.client_account_id,
        engagement: b.engagements[0].id,
    };
    let other_engagement = Scope {
        account: a.client_account_id,
        engagement: a.engagements[1].id,
    };
    for scope in [other_tenant, other_engagement] {
        assert_eq!(both_reads(&db, &scope, part_way).await, (None, None));
    }
    on_flow(
        &db,
        "UPDATE flows SET status = 'deleted' WHERE id = $1",
        part_way,
    )
    .await;
    assert_eq!(both_reads(&db, &scope_a, part_way).await, (None, None));
    assert_eq!(
        both_reads(&db, &scope_a, Uuid::now_v7()).await,
        (None, None)
    );
}
