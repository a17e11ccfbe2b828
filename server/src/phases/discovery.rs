//! Discovery: import the records, map their fields, cleanse, create assets, inventory
//! them, analyse their dependencies.

use super::graph::DependencyGraph;
use super::records::{self, cleanse, raw_records};
use super::{PhaseContext, PhaseError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many individual changes are listed (the count is always exact).
const MAX_LISTED_CHANGES: usize = 200;

pub(crate) fn data_import(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let recs = raw_records(&ctx.initial_data)?;
    let fields: BTreeSet<&String> = recs.iter().flat_map(|r| r.keys()).collect();
    let empty = recs.iter().filter(|r| r.is_empty()).count();
    Ok(json!({
        "records_received": recs.len(),
        "records_accepted": recs.len(),
        "empty_records": empty,
        "source_fields": fields,
        "source": ctx.initial_data.get("source").cloned().unwrap_or(Value::Null),
    }))
}

pub(crate) fn field_mapping(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let recs = raw_records(&ctx.initial_data)?;
    let (mapped, unmapped) = records::field_mapping(&recs);
    let canonical: BTreeSet<&String> = mapped.values().collect();
    let missing: Vec<&str> = records::FIELD_ALIASES
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !canonical.iter().any(|m| m.as_str() == *c))
        .collect();
    Ok(json!({
        "mappings": mapped,
        "mapped_field_count": mapped.len(),
        "unmapped_fields": unmapped,
        "canonical_fields_missing": missing,
    }))
}

pub(crate) fn data_cleansing(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let c = cleanse(&raw_records(&ctx.initial_data)?);
    let listed: Vec<_> = c.changes.iter().take(MAX_LISTED_CHANGES).collect();
    Ok(json!({
        "records_in": c.records_in,
        "records_out": c.assets.len(),
        "duplicates_removed": c.duplicates_removed,
        "dropped_without_name": c.dropped_without_name.iter().map(|i| format!("raw_data[{i}]")).collect::<Vec<_>>(),
        "change_count": c.changes.len(),
        "changes": listed,
    }))
}

pub(crate) fn asset_creation(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    Ok(json!({
        "assets_created": assets.len(),
        "assets": assets,
    }))
}

fn count_by<F: Fn(&records::Asset) -> String>(
    assets: &[records::Asset],
    key: F,
) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in assets {
        *m.entry(key(a)).or_insert(0) += 1;
    }
    m
}

pub(crate) fn asset_inventory(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let mut tech: BTreeMap<String, usize> = BTreeMap::new();
    for a in &assets {
        for t in &a.technology_stack {
            *tech.entry(t.to_lowercase()).or_insert(0) += 1;
        }
    }
    Ok(json!({
        "total_assets": assets.len(),
        "by_type": count_by(&assets, |a| a.asset_type.clone()),
        "by_criticality": count_by(&assets, |a| a.business_criticality.as_str().to_string()),
        "by_environment": count_by(&assets, |a| a.environment.clone()),
        "technologies": tech,
        "without_owner": assets.iter().filter(|a| a.owner.is_none()).map(|a| a.name.clone()).collect::<Vec<_>>(),
    }))
}

pub(crate) fn dependency_analysis(ctx: &PhaseContext) -> Result<Value, PhaseError> {
    let assets = records::assets(&ctx.initial_data)?;
    let g = DependencyGraph::build(&assets);
    let dependents = g.dependents();
    let edges: Vec<Value> = g
        .deps
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            let names = &g.names;
            d.iter()
                .map(move |&j| json!({"from": names[i], "to": names[j]}))
        })
        .collect();
    let mut most: Vec<(usize, &String)> = dependents
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (d.len(), &g.names[i]))
        .collect();
    most.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let isolated: Vec<&String> = (0..g.names.len())
        .filter(|&i| g.deps[i].is_empty() && dependents[i].is_empty())
        .map(|i| &g.names[i])
        .collect();
    let cycles = g.cycles();
    Ok(json!({
        "nodes": g.names.len(),
        "edge_count": g.edge_count(),
        "edges": edges,
        "unknown_references": g.unknown.iter().map(|(a, r)| json!({"asset": a, "reference": r})).collect::<Vec<_>>(),
        "has_cycles": !cycles.is_empty(),
        "cycles": cycles,
        "most_depended_on": most.iter().take(10).map(|(n, name)| json!({"name": name, "dependents": n})).collect::<Vec<_>>(),
        "isolated": isolated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::test_support::{ctx, sample};

    #[test]
    fn discovery_outputs_follow_from_the_records() {
        let c = ctx("discovery", "x", sample());
        assert_eq!(data_import(&c).unwrap()["records_received"], 6);
        let m = field_mapping(&c).unwrap();
        assert_eq!(m["mappings"]["application_name"], "name");
        assert_eq!(m["unmapped_fields"], json!([]));
        assert_eq!(asset_creation(&c).unwrap()["assets_created"], 6);
        let inv = asset_inventory(&c).unwrap();
        assert_eq!(inv["by_criticality"]["critical"], 2);
        assert_eq!(inv["by_environment"]["development"], 1);
        let d = dependency_analysis(&c).unwrap();
        assert_eq!(d["cycles"], json!([["Auth", "Ledger"]]));
        assert_eq!(
            d["unknown_references"],
            json!([{"asset": "Ledger", "reference": "Mainframe Batch"}])
        );
    }

    #[test]
    fn empty_input_runs_with_zero_assets() {
        let c = ctx("discovery", "x", json!({}));
        assert_eq!(data_import(&c).unwrap()["records_received"], 0);
        assert_eq!(asset_inventory(&c).unwrap()["total_assets"], 0);
        assert_eq!(dependency_analysis(&c).unwrap()["nodes"], 0);
    }
}
