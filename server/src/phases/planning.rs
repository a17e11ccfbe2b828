//! Planning: migration waves from the dependency graph (an application moves after what
//! it depends on; a dependency cycle moves together), the people each wave needs, and the
//! timeline.

use super::assessment::{assess, Assessment};
use super::graph::DependencyGraph;
use super::records;
use super::{config_u64, PhaseContext, PhaseError};
use serde_json::{json, Value};

/// Person-days to move one application: 2 + 3 × its complexity score (1..=10).
fn effort_days(a: &Assessment) -> u32 {
    2 + 3 * a.complexity_score
}

/// Person-days one engineer delivers per wave.
const ENGINEER_CAPACITY_DAYS: u32 = 20;
/// Days of each wave spent on cutover and hypercare.
const CUTOVER_DAYS: u32 = 5;

struct Wave {
    number: usize,
    members: Vec<usize>,
}

/// The assets, their assessments, the waves over them and the graph the waves came from.
type Waves = (
    Vec<records::Asset>,
    Vec<Assessment>,
    Vec<Wave>,
    DependencyGraph,
);

/// Waves: the graph's layers, each split into chunks of `configuration.max_wave_size`
/// (default unlimited); cycle members are never split apart from each other because a
/// cycle is kept in one chunk.
fn waves(ctx: &PhaseContext) -> Result<Waves, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let assessed = assess(&assets);
    let g = DependencyGraph::build(&assets);
    let max = config_u64(ctx, "max_wave_size")
        .filter(|m| *m > 0)
        .map(|m| m as usize)
        .unwrap_or(usize::MAX);
    let comps = g.components();
    let mut out = Vec::new();
    for layer in g.layered() {
        // Keep each component whole inside a chunk.
        let mut chunk: Vec<usize> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for v in layer {
            if !seen.insert(v) {
                continue;
            }
            let comp: Vec<usize> = comps
                .iter()
                .find(|c| c.contains(&v))
                .cloned()
                .unwrap_or_else(|| vec![v]);
            seen.extend(comp.iter().copied());
            if !chunk.is_empty() && chunk.len() + comp.len() > max {
                out.push(std::mem::take(&mut chunk));
            }
            chunk.extend(comp);
        }
        if !chunk.is_empty() {
            out.push(chunk);
        }
    }
    let waves = out
        .into_iter()
        .enumerate()
        .map(|(i, members)| Wave {
            number: i + 1,
            members,
        })
        .collect();
    Ok((assets, assessed, waves, g))
}

pub(crate) fn wave_planning(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let (assets, _, waves, g) = waves(ctx)?;
    Ok(json!({
        "wave_count": waves.len(),
        "applications_planned": assets.len(),
        "waves": waves.iter().map(|w| json!({
            "wave": w.number,
            "applications": w.members.iter().map(|&i| assets[i].name.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "cyclic_groups": g.cycles(),
        "unknown_references": g.unknown.iter().map(|(a, r)| json!({"asset": a, "reference": r})).collect::<Vec<_>>(),
    }))
}

struct WavePlan {
    number: usize,
    applications: Vec<String>,
    effort_days: u32,
    engineers: u32,
    duration_days: u32,
    critical_cutovers: usize,
}

fn wave_plans(ctx: &PhaseContext) -> Result<Vec<WavePlan>, PhaseError> {
    let (assets, assessed, waves, _) = waves(ctx)?;
    Ok(waves
        .iter()
        .map(|w| {
            let effort: u32 = w.members.iter().map(|&i| effort_days(&assessed[i])).sum();
            let engineers = effort.div_ceil(ENGINEER_CAPACITY_DAYS).clamp(1, 10);
            WavePlan {
                number: w.number,
                applications: w.members.iter().map(|&i| assets[i].name.clone()).collect(),
                effort_days: effort,
                engineers,
                duration_days: effort.div_ceil(engineers) + CUTOVER_DAYS,
                critical_cutovers: w
                    .members
                    .iter()
                    .filter(|&&i| assets[i].business_criticality == records::Criticality::Critical)
                    .count(),
            }
        })
        .collect())
}

pub(crate) fn resource_planning(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let plans = wave_plans(ctx)?;
    Ok(json!({
        "waves": plans.iter().map(|p| json!({
            "wave": p.number,
            "applications": p.applications,
            "effort_person_days": p.effort_days,
            "engineers": p.engineers,
        })).collect::<Vec<_>>(),
        "total_effort_person_days": plans.iter().map(|p| p.effort_days).sum::<u32>(),
        "peak_engineers": plans.iter().map(|p| p.engineers).max().unwrap_or(0),
        "rule": format!("effort = 2 + 3 x complexity person-days per application; one engineer per {ENGINEER_CAPACITY_DAYS} person-days, 1..=10 per wave"),
    }))
}

pub(crate) fn timeline_optimization(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let plans = wave_plans(ctx)?;
    let mut day = 0u32;
    let mut rows = Vec::new();
    for p in &plans {
        let start = day;
        day += p.duration_days;
        rows.push(json!({
            "wave": p.number,
            "start_day": start,
            "end_day": day,
            "duration_days": p.duration_days,
            "cutover_window": if p.critical_cutovers > 0 { "weekend" } else { "business_hours" },
        }));
    }
    Ok(json!({
        "waves": rows,
        "total_duration_days": day,
        "rule": format!("waves run in dependency order; duration = ceil(effort / engineers) + {CUTOVER_DAYS} cutover days; waves with critical applications cut over at weekends"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::test_support::{ctx, sample};

    #[test]
    fn waves_respect_dependencies_and_cycles() {
        let c = ctx("planning", "wave_planning", sample());
        let w = wave_planning(&c).unwrap();
        assert_eq!(
            w["waves"],
            json!([
                {"wave": 1, "applications": ["Orders DB", "Auth", "Ledger", "Intranet"]},
                {"wave": 2, "applications": ["Orders API"]},
                {"wave": 3, "applications": ["Web Portal"]}
            ])
        );
        let mut c2 = c.clone();
        c2.configuration = json!({"max_wave_size": 2});
        let w = wave_planning(&c2).unwrap();
        assert_eq!(w["waves"][0]["applications"], json!(["Orders DB"]));
        assert_eq!(w["waves"][1]["applications"], json!(["Auth", "Ledger"]));
        let t = timeline_optimization(&c).unwrap();
        assert!(t["total_duration_days"].as_u64().unwrap() > 0);
    }
}
