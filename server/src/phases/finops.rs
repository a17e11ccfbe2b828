//! FinOps: monthly cost per application, savings opportunities, budget.
//!
//! Cost: the record's `monthly_cost` if given, else `instance_count` (default 1) × a
//! documented monthly rate per instance by criticality ([`RATE_PER_INSTANCE`]).

use super::records::{self, Asset, Criticality};
use super::{PhaseContext, PhaseError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// USD per instance per month when a record states no cost: low, medium, high, critical.
pub(crate) const RATE_PER_INSTANCE: [(Criticality, f64); 4] = [
    (Criticality::Low, 150.0),
    (Criticality::Medium, 300.0),
    (Criticality::High, 600.0),
    (Criticality::Critical, 1000.0),
];

/// Budget contingency on top of the optimised run rate.
const CONTINGENCY: f64 = 0.10;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn monthly_cost(a: &Asset) -> (f64, &'static str) {
    if let Some(c) = a.monthly_cost {
        return (c, "record");
    }
    let rate = RATE_PER_INSTANCE
        .iter()
        .find(|(c, _)| *c == a.business_criticality)
        .map(|(_, r)| *r)
        .unwrap_or(300.0);
    (f64::from(a.instance_count.unwrap_or(1)) * rate, "estimated")
}

struct Opportunity {
    name: String,
    action: &'static str,
    savings: f64,
    reason: String,
}

/// Rules, each application at most one (the first that applies):
/// non-production → schedule off-hours (65 % saving); more than 2 instances at low or
/// medium criticality → rightsize (30 %); production at high or critical → reserved
/// capacity (20 %).
fn opportunities(assets: &[Asset]) -> Vec<Opportunity> {
    assets
        .iter()
        .filter_map(|a| {
            let (cost, _) = monthly_cost(a);
            let (action, pct, reason) = if a.environment != "production" {
                (
                    "schedule_off_hours",
                    0.65,
                    format!("{} environment runs 24/7", a.environment),
                )
            } else if a.instance_count.unwrap_or(1) > 2
                && a.business_criticality <= Criticality::Medium
            {
                (
                    "rightsize",
                    0.30,
                    format!(
                        "{} instances for a {} criticality application",
                        a.instance_count.unwrap_or(1),
                        a.business_criticality.as_str()
                    ),
                )
            } else if a.business_criticality >= Criticality::High {
                (
                    "reserved_capacity",
                    0.20,
                    "steady production load suits reserved pricing".to_string(),
                )
            } else {
                return None;
            };
            Some(Opportunity {
                name: a.name.clone(),
                action,
                savings: round2(cost * pct),
                reason,
            })
        })
        .collect()
}

pub(crate) fn cost_analysis(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let mut by_env: BTreeMap<String, f64> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut total = 0.0;
    for a in &assets {
        let (c, source) = monthly_cost(a);
        total += c;
        *by_env.entry(a.environment.clone()).or_insert(0.0) += c;
        rows.push(json!({"name": a.name, "monthly_cost": round2(c), "source": source}));
    }
    Ok(json!({
        "currency": "USD",
        "applications": rows,
        "total_monthly_cost": round2(total),
        "by_environment": by_env.into_iter().map(|(k, v)| (k, round2(v))).collect::<BTreeMap<_, _>>(),
        "estimation_rule": "monthly_cost from the record, else instance_count (default 1) x per-instance rate: low 150, medium 300, high 600, critical 1000 USD",
    }))
}

pub(crate) fn optimization_identification(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let ops = opportunities(&assets);
    Ok(json!({
        "opportunities": ops.iter().map(|o| json!({"name": o.name, "action": o.action, "estimated_monthly_savings": o.savings, "reason": o.reason})).collect::<Vec<_>>(),
        "opportunity_count": ops.len(),
        "total_monthly_savings": round2(ops.iter().map(|o| o.savings).sum()),
    }))
}

pub(crate) fn budget_planning(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let current: f64 = assets.iter().map(|a| monthly_cost(a).0).sum();
    let savings: f64 = opportunities(&assets).iter().map(|o| o.savings).sum();
    let optimised = current - savings;
    Ok(json!({
        "currency": "USD",
        "current_monthly": round2(current),
        "optimized_monthly": round2(optimised),
        "annual_current": round2(current * 12.0),
        "annual_optimized": round2(optimised * 12.0),
        "annual_savings": round2(savings * 12.0),
        "contingency_pct": CONTINGENCY * 100.0,
        "annual_budget": round2(optimised * 12.0 * (1.0 + CONTINGENCY)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::test_support::{ctx, sample};

    #[test]
    fn costs_follow_records_or_the_documented_rates() {
        let c = ctx("finops", "cost_analysis", sample());
        let out = cost_analysis(&c).unwrap();
        // Web Portal high 600, Orders API 1200 (record), Orders DB critical 1000,
        // Auth high 600, Ledger medium 300, Intranet 3 x low 150 = 450.
        assert_eq!(out["total_monthly_cost"], 4150.0);
        let o = optimization_identification(&c).unwrap();
        // Intranet (dev) 65% of 450; high/critical production 20%: 600+1200+1000+600.
        assert_eq!(o["total_monthly_savings"], 292.5 + 680.0);
        let b = budget_planning(&c).unwrap();
        assert_eq!(b["optimized_monthly"], 4150.0 - 972.5);
    }
}
