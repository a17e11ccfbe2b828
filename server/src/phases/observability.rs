//! Observability: monitors, log retention and alert rules per application, tiered by
//! business criticality and environment.

use super::records::{self, stack_has, Asset, Criticality};
use super::{PhaseContext, PhaseError};
use serde_json::{json, Value};

fn check_interval_s(a: &Asset) -> u32 {
    match a.business_criticality {
        Criticality::Critical => 60,
        Criticality::High => 120,
        Criticality::Medium => 300,
        Criticality::Low => 900,
    }
}

/// Monitors an application needs, from its technology stack.
fn monitors(a: &Asset) -> Vec<&'static str> {
    let mut m = vec!["host_metrics"];
    if stack_has(
        a,
        &[
            "java", "spring", ".net", "node", "python", "php", "ruby", "go", "nginx", "apache",
            "tomcat", "web", "api",
        ],
    ) || a.asset_type == "application"
    {
        m.push("http_endpoint");
        m.push("apm_traces");
    }
    if stack_has(
        a,
        &[
            "oracle",
            "postgres",
            "mysql",
            "sql server",
            "mssql",
            "mongo",
            "db2",
            "redis",
        ],
    ) {
        m.push("database_metrics");
    }
    if stack_has(a, &["kafka", "rabbitmq", "mq", "jms"]) {
        m.push("queue_depth");
    }
    if stack_has(a, &["mainframe", "cobol", "batch"]) {
        m.push("batch_job_status");
    }
    m
}

pub(crate) fn monitoring_setup(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let rows: Vec<Value> = assets
        .iter()
        .map(|a| json!({"name": a.name, "monitors": monitors(a), "check_interval_seconds": check_interval_s(a)}))
        .collect();
    Ok(json!({
        "applications": rows,
        "monitor_count": assets.iter().map(|a| monitors(a).len()).sum::<usize>(),
    }))
}

/// Days of log retention: by criticality in production, 14 elsewhere.
fn retention_days(a: &Asset) -> u32 {
    if a.environment != "production" {
        return 14;
    }
    match a.business_criticality {
        Criticality::Critical => 365,
        Criticality::High => 180,
        Criticality::Medium => 90,
        Criticality::Low => 30,
    }
}

pub(crate) fn logging_configuration(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    Ok(json!({
        "applications": assets.iter().map(|a| json!({
            "name": a.name,
            "retention_days": retention_days(a),
            "log_level": if a.environment == "production" { "info" } else { "debug" },
            "audit_log": a.business_criticality >= Criticality::High,
        })).collect::<Vec<_>>(),
        "rule": "production retention: critical 365, high 180, medium 90, low 30 days; other environments 14 days",
    }))
}

pub(crate) fn alerting_setup(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let mut total = 0;
    let rows: Vec<Value> = assets
        .iter()
        .map(|a| {
            let severity = match a.business_criticality {
                Criticality::Critical => "page",
                Criticality::High => "page_business_hours",
                _ => "ticket",
            };
            let rules: Vec<String> = monitors(a)
                .iter()
                .map(|m| format!("{m}_{severity}"))
                .collect();
            total += rules.len();
            json!({
                "name": a.name,
                "severity": severity,
                "route_to": a.owner.clone().unwrap_or_else(|| "unassigned".to_string()),
                "rules": rules,
            })
        })
        .collect();
    Ok(json!({
        "applications": rows,
        "alert_rule_count": total,
        "unrouted": assets.iter().filter(|a| a.owner.is_none()).map(|a| a.name.clone()).collect::<Vec<_>>(),
    }))
}
