//! Assessment: readiness, complexity and risk scores per application and a 6R
//! recommendation, from documented rules (see [`assess`]).

use super::graph::DependencyGraph;
use super::records::{self, stack_has, Asset, COMMERCIAL_TECH, LEGACY_TECH, PLATFORM_TECH};
use super::{PhaseContext, PhaseError};
use serde::Serialize;
use serde_json::{json, Value};

/// One application's scores and recommendation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Assessment {
    pub name: String,
    /// 0..=100: how ready to move as is.
    pub readiness_score: u32,
    pub readiness_factors: Vec<String>,
    /// 1..=10.
    pub complexity_score: u32,
    /// 1..=40: criticality weight × complexity.
    pub risk_score: u32,
    pub risk_level: &'static str,
    pub strategy: &'static str,
    pub rationale: String,
    pub dependency_count: usize,
    pub dependent_count: usize,
}

/// Scores every asset.
///
/// - readiness starts at 100; −3 per complexity point above 1, −20 legacy technology,
///   −5 per dependency (at most −25), −10 without an owner; floor 0.
/// - complexity: the record's technical complexity (1..=10) +1 with more than 3
///   dependencies, +1 with more than 3 technologies, +2 legacy technology; cap 10.
/// - risk: criticality weight (1..=4) × complexity; ≥ 28 critical, ≥ 18 high, ≥ 9 medium.
/// - strategy (first rule that matches): lifecycle retired/deprecated/sunset or low
///   criticality with readiness < 40 and nothing depending on it → retire; commercial
///   package → repurchase; legacy technology with critical criticality → retain; legacy →
///   refactor; readiness ≥ 70 → rehost; a containerisable platform → replatform; else refactor.
pub(crate) fn assess(assets: &[Asset]) -> Vec<Assessment> {
    let g = DependencyGraph::build(assets);
    let dependents = g.dependents();
    assets
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let legacy = stack_has(a, LEGACY_TECH);
            let mut factors = Vec::new();
            let mut readiness: i64 = 100;
            let cplx_penalty = 3 * (i64::from(a.technical_complexity) - 1);
            if cplx_penalty > 0 {
                readiness -= cplx_penalty;
                factors.push(format!(
                    "technical complexity {} (-{cplx_penalty})",
                    a.technical_complexity
                ));
            }
            if legacy {
                readiness -= 20;
                factors.push("legacy technology (-20)".to_string());
            }
            let dep_penalty = (5 * a.dependencies.len() as i64).min(25);
            if dep_penalty > 0 {
                readiness -= dep_penalty;
                factors.push(format!(
                    "{} dependencies (-{dep_penalty})",
                    a.dependencies.len()
                ));
            }
            if a.owner.is_none() {
                readiness -= 10;
                factors.push("no owner (-10)".to_string());
            }
            let readiness = readiness.max(0) as u32;
            let mut complexity = a.technical_complexity;
            if a.dependencies.len() > 3 {
                complexity += 1;
            }
            if a.technology_stack.len() > 3 {
                complexity += 1;
            }
            if legacy {
                complexity += 2;
            }
            let complexity = complexity.clamp(1, 10);
            let risk = a.business_criticality.weight() * complexity;
            let risk_level = match risk {
                28.. => "critical",
                18..=27 => "high",
                9..=17 => "medium",
                _ => "low",
            };
            let (strategy, rationale) = strategy(a, readiness, legacy, dependents[i].len());
            Assessment {
                name: a.name.clone(),
                readiness_score: readiness,
                readiness_factors: factors,
                complexity_score: complexity,
                risk_score: risk,
                risk_level,
                strategy,
                rationale,
                dependency_count: a.dependencies.len(),
                dependent_count: dependents[i].len(),
            }
        })
        .collect()
}

fn strategy(a: &Asset, readiness: u32, legacy: bool, dependents: usize) -> (&'static str, String) {
    let retiring = matches!(
        a.lifecycle.as_deref(),
        Some("retired" | "retire" | "deprecated" | "sunset" | "end_of_life" | "eol")
    );
    if retiring {
        return ("retire", "lifecycle marks it for retirement".to_string());
    }
    if a.business_criticality == records::Criticality::Low && readiness < 40 && dependents == 0 {
        return (
            "retire",
            "low criticality, low readiness and nothing depends on it".to_string(),
        );
    }
    if stack_has(a, COMMERCIAL_TECH) {
        return (
            "repurchase",
            "a commercial package with SaaS equivalents".to_string(),
        );
    }
    if legacy && a.business_criticality == records::Criticality::Critical {
        return (
            "retain",
            "critical and on legacy technology: moving it is riskier than keeping it".to_string(),
        );
    }
    if legacy {
        return (
            "refactor",
            "legacy technology must be rewritten".to_string(),
        );
    }
    if readiness >= 70 {
        return (
            "rehost",
            format!("readiness {readiness} ≥ 70: lift and shift"),
        );
    }
    if stack_has(a, PLATFORM_TECH) {
        return (
            "replatform",
            "runs on a platform with a managed or containerised equivalent".to_string(),
        );
    }
    (
        "refactor",
        format!("readiness {readiness} < 70 and no managed platform"),
    )
}

fn assessed(ctx: &PhaseContext) -> Result<Vec<Assessment>, PhaseError> {
    Ok(assess(&records::assets(&ctx.initial_data)?))
}

fn average(xs: impl Iterator<Item = u32>) -> f64 {
    let v: Vec<u32> = xs.collect();
    if v.is_empty() {
        0.0
    } else {
        let avg = f64::from(v.iter().sum::<u32>()) / v.len() as f64;
        (avg * 10.0).round() / 10.0
    }
}

pub(crate) fn readiness_assessment(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let a = assessed(ctx)?;
    Ok(json!({
        "applications_assessed": a.len(),
        "average_readiness": average(a.iter().map(|x| x.readiness_score)),
        "ready_to_move": a.iter().filter(|x| x.readiness_score >= 70).count(),
        "applications": a.iter().map(|x| json!({"name": x.name, "readiness_score": x.readiness_score, "factors": x.readiness_factors})).collect::<Vec<_>>(),
    }))
}

pub(crate) fn complexity_analysis(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let a = assessed(ctx)?;
    Ok(json!({
        "applications_analysed": a.len(),
        "average_complexity": average(a.iter().map(|x| x.complexity_score)),
        "high_complexity": a.iter().filter(|x| x.complexity_score >= 8).map(|x| x.name.clone()).collect::<Vec<_>>(),
        "applications": a.iter().map(|x| json!({"name": x.name, "complexity_score": x.complexity_score, "dependencies": x.dependency_count, "dependents": x.dependent_count})).collect::<Vec<_>>(),
    }))
}

pub(crate) fn risk_assessment(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let a = assessed(ctx)?;
    let mut by_level = std::collections::BTreeMap::new();
    for x in &a {
        *by_level.entry(x.risk_level).or_insert(0usize) += 1;
    }
    Ok(json!({
        "applications_assessed": a.len(),
        "by_risk_level": by_level,
        "applications": a.iter().map(|x| json!({"name": x.name, "risk_score": x.risk_score, "risk_level": x.risk_level})).collect::<Vec<_>>(),
    }))
}

pub(crate) fn recommendation_generation(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let a = assessed(ctx)?;
    let mut by_strategy = std::collections::BTreeMap::new();
    for x in &a {
        *by_strategy.entry(x.strategy).or_insert(0usize) += 1;
    }
    Ok(json!({
        "recommendations": a.iter().map(|x| json!({"name": x.name, "strategy": x.strategy, "rationale": x.rationale, "readiness_score": x.readiness_score, "risk_level": x.risk_level})).collect::<Vec<_>>(),
        "by_strategy": by_strategy,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::test_support::sample;

    #[test]
    fn six_r_rules_follow_the_records() {
        let a = assess(&records::assets(&sample()).unwrap());
        let s: Vec<(&str, &str)> = a.iter().map(|x| (x.name.as_str(), x.strategy)).collect();
        assert_eq!(
            s,
            vec![
                ("Web Portal", "rehost"),
                ("Orders API", "replatform"),
                ("Orders DB", "rehost"),
                ("Auth", "rehost"),
                ("Ledger", "refactor"),
                ("Intranet", "retire"),
            ]
        );
        // Web Portal: complexity 5 (-12), 2 dependencies (-10), owner → 78.
        assert_eq!(a[0].readiness_score, 78);
        assert_eq!(a[1].risk_level, "critical");
    }
}
