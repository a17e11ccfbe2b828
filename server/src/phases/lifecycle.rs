//! Execution, modernize and decommission: rule-based steps over the assessed
//! applications.

use super::assessment::assess;
use super::graph::DependencyGraph;
use super::records::{self, stack_has, Asset, Criticality, LEGACY_TECH};
use super::{approval, PhaseContext, PhaseError};
use serde_json::{json, Value};

// ---------------------------------------------------------------- execution

/// Pre-migration checks per application; issues are reported, not fatal (a person
/// approves the result after migration).
fn validation_issues(a: &Asset, g: &DependencyGraph) -> Vec<String> {
    let mut issues = Vec::new();
    if a.owner.is_none() {
        issues.push("no owner to sign off the cutover".to_string());
    }
    for (asset, r) in &g.unknown {
        if asset == &a.name {
            issues.push(format!("depends on unknown system `{r}`"));
        }
    }
    if a.technology_stack.is_empty() {
        issues.push("technology stack unknown".to_string());
    }
    issues
}

pub(crate) fn pre_migration_validation(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let g = DependencyGraph::build(&assets);
    let rows: Vec<Value> = assets
        .iter()
        .map(|a| {
            let issues = validation_issues(a, &g);
            json!({"name": a.name, "ready": issues.is_empty(), "issues": issues})
        })
        .collect();
    let ready = rows.iter().filter(|r| r["ready"] == true).count();
    Ok(json!({
        "applications_validated": assets.len(),
        "ready": ready,
        "with_issues": assets.len() - ready,
        "applications": rows,
    }))
}

fn steps_for(strategy: &str) -> &'static [&'static str] {
    match strategy {
        "rehost" => &["replicate_servers", "cutover", "smoke_test"],
        "replatform" => &[
            "provision_managed_platform",
            "migrate_data",
            "redeploy",
            "cutover",
            "smoke_test",
        ],
        "refactor" => &[
            "build_target_services",
            "migrate_data",
            "parallel_run",
            "cutover",
        ],
        "repurchase" => &["provision_saas", "migrate_data", "train_users", "cutover"],
        "retire" => &["archive_data", "shut_down"],
        _ => &["no_change"],
    }
}

pub(crate) fn migration_execution(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let assessed = assess(&assets);
    let g = DependencyGraph::build(&assets);
    let layers = g.layers();
    let mut order: Vec<usize> = (0..assets.len()).collect();
    order.sort_by_key(|&i| (layers[i], i));
    let rows: Vec<Value> = order
        .iter()
        .map(|&i| {
            let s = assessed[i].strategy;
            json!({
                "name": assets[i].name,
                "strategy": s,
                "wave": layers[i] + 1,
                "steps": steps_for(s),
                "migrated": s != "retain" && s != "retire",
            })
        })
        .collect();
    let migrated = rows.iter().filter(|r| r["migrated"] == true).count();
    Ok(json!({
        "applications": rows,
        "migrated": migrated,
        "retained_or_retired": assets.len() - migrated,
    }))
}

pub(crate) fn post_migration_validation(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let (_, comment) = approval(ctx)?;
    let assets = records::assets(&ctx.initial_data)?;
    let assessed = assess(&assets);
    let validated: Vec<&str> = assessed
        .iter()
        .filter(|a| a.strategy != "retain" && a.strategy != "retire")
        .map(|a| a.name.as_str())
        .collect();
    Ok(json!({
        "approved": true,
        "comment": comment,
        "applications_validated": validated.len(),
        "applications": validated,
        "checks": ["smoke_test", "performance_baseline", "data_reconciliation"],
    }))
}

// ---------------------------------------------------------------- modernize

/// 0..=100: how much an application gains from modernisation (legacy technology,
/// complexity, criticality).
fn modernization_score(a: &Asset) -> u32 {
    let mut s = 10 * a.technical_complexity / 2;
    if stack_has(a, LEGACY_TECH) {
        s += 40;
    }
    s += 5 * a.business_criticality.weight();
    s.min(100)
}

/// Target architecture for a technology, first match wins.
const TARGETS: &[(&str, &str)] = &[
    (
        "cobol",
        "Java services on Kubernetes, batch as event-driven jobs",
    ),
    (
        "mainframe",
        "Java services on Kubernetes, batch as event-driven jobs",
    ),
    (".net framework", ".NET 8 in containers"),
    ("vb6", ".NET 8 web application"),
    ("weblogic", "Spring Boot in containers"),
    ("websphere", "Spring Boot in containers"),
    ("oracle", "managed PostgreSQL"),
    ("sql server", "managed SQL database"),
    ("java", "containers on Kubernetes"),
    ("spring", "containers on Kubernetes"),
    ("node", "serverless functions or containers"),
    ("python", "containers on Kubernetes"),
    ("sharepoint", "SaaS collaboration suite"),
];

fn target_for(a: &Asset) -> &'static str {
    for t in &a.technology_stack {
        let t = t.to_lowercase();
        if let Some((_, target)) = TARGETS.iter().find(|(m, _)| t.contains(m)) {
            return target;
        }
    }
    "containers on Kubernetes"
}

fn candidates(assets: &[Asset]) -> Vec<&Asset> {
    assets
        .iter()
        .filter(|a| modernization_score(a) >= 40)
        .collect()
}

pub(crate) fn modernization_assessment(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    Ok(json!({
        "applications": assets.iter().map(|a| json!({
            "name": a.name,
            "current_stack": a.technology_stack,
            "modernization_score": modernization_score(a),
            "candidate": modernization_score(a) >= 40,
        })).collect::<Vec<_>>(),
        "candidates": candidates(&assets).len(),
        "rule": "score = 5 x complexity + 40 if legacy technology + 5 x criticality weight (cap 100); candidate at 40 or more",
    }))
}

pub(crate) fn architecture_redesign(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    Ok(json!({
        "designs": candidates(&assets).iter().map(|a| json!({
            "name": a.name,
            "from": a.technology_stack,
            "target_architecture": target_for(a),
            "patterns": if a.dependencies.len() > 2 { vec!["strangler_fig", "api_gateway"] } else { vec!["strangler_fig"] },
        })).collect::<Vec<_>>(),
    }))
}

pub(crate) fn implementation_planning(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let g = DependencyGraph::build(&assets);
    let layers = g.layers();
    let mut rows: Vec<(usize, usize, &Asset)> = assets
        .iter()
        .enumerate()
        .filter(|(_, a)| modernization_score(a) >= 40)
        .map(|(i, a)| (layers[i], i, a))
        .collect();
    rows.sort_by_key(|(l, i, _)| (*l, *i));
    let mut week = 0u32;
    let plan: Vec<Value> = rows
        .iter()
        .map(|(_, _, a)| {
            let weeks = 2 + a.technical_complexity;
            let start = week;
            week += weeks;
            json!({"name": a.name, "target_architecture": target_for(a), "start_week": start, "duration_weeks": weeks})
        })
        .collect();
    Ok(json!({
        "plan": plan,
        "total_weeks": week,
        "rule": "dependencies first; 2 + complexity weeks per application, one at a time",
    }))
}

// ---------------------------------------------------------------- decommission

/// Years to keep the archive, by criticality.
fn retention_years(c: Criticality) -> u32 {
    match c {
        Criticality::Critical => 10,
        Criticality::High => 7,
        Criticality::Medium => 5,
        Criticality::Low => 3,
    }
}

/// GB to archive: the record's size or 50 GB per criticality weight.
fn data_gb(a: &Asset) -> f64 {
    a.data_size_gb
        .unwrap_or(f64::from(50 * a.business_criticality.weight()))
}

pub(crate) fn decommission_planning(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let (_, comment) = approval(ctx)?;
    let assets = records::assets(&ctx.initial_data)?;
    let g = DependencyGraph::build(&assets);
    let dependents = g.dependents();
    Ok(json!({
        "approved": true,
        "comment": comment,
        "systems": assets.iter().enumerate().map(|(i, a)| json!({
            "name": a.name,
            "dependents": dependents[i].iter().map(|&j| g.names[j].clone()).collect::<Vec<_>>(),
            "business_criticality": a.business_criticality,
        })).collect::<Vec<_>>(),
        "system_count": assets.len(),
    }))
}

pub(crate) fn data_migration(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let total: f64 = assets.iter().map(data_gb).sum();
    Ok(json!({
        "archives": assets.iter().map(|a| json!({
            "name": a.name,
            "data_gb": data_gb(a),
            "retention_years": retention_years(a.business_criticality),
            "archive_tier": if a.business_criticality >= Criticality::High { "warm" } else { "cold" },
        })).collect::<Vec<_>>(),
        "total_data_gb": total,
        "rule": "data_size_gb from the record, else 50 GB x criticality weight; retention critical 10, high 7, medium 5, low 3 years",
    }))
}

pub(crate) fn system_shutdown(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let g = DependencyGraph::build(&assets);
    let layers = g.layers();
    // Dependents go first: the highest layer (depends on the most) shuts down first.
    let mut order: Vec<usize> = (0..assets.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(layers[i]), i));
    let in_cycle = g.in_cycle();
    Ok(json!({
        "shutdown_order": order.iter().map(|&i| json!({
            "step": layers.iter().max().map(|m| m - layers[i] + 1).unwrap_or(1),
            "name": assets[i].name,
            "together_with_cycle": in_cycle.contains(&i),
        })).collect::<Vec<_>>(),
        "systems_shut_down": assets.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::test_support::{ctx, sample};

    #[test]
    fn approval_phases_need_an_approval() {
        let mut c = ctx("decommission", "decommission_planning", sample());
        assert_eq!(decommission_planning(&c).unwrap_err().code, "input_missing");
        c.input = Some(json!({"approved": false, "comment": "not yet"}));
        let e = decommission_planning(&c).unwrap_err();
        assert_eq!(e.code, "input_rejected");
        assert!(e.message.contains("not yet"));
        c.input = Some(json!({"approved": true, "comment": "go"}));
        let out = decommission_planning(&c).unwrap();
        assert_eq!(out["system_count"], 6);
        assert_eq!(out["comment"], "go");
    }

    #[test]
    fn shutdown_goes_dependents_first() {
        let c = ctx("decommission", "system_shutdown", sample());
        let out = system_shutdown(&c).unwrap();
        assert_eq!(out["shutdown_order"][0]["name"], "Web Portal");
        assert_eq!(out["shutdown_order"][1]["name"], "Orders API");
    }
}
