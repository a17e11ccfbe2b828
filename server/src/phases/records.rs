//! The canonical asset record every handler works on, and the liberal mapping from the
//! original system's `initial_data.raw_data` records (field names vary by source: CMDB
//! exports, spreadsheets, the seed's own test data).

use super::PhaseError;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Canonical field ← accepted source field names (first match wins, compared after
/// lower-casing and turning `-`/space into `_`).
pub(crate) const FIELD_ALIASES: &[(&str, &[&str])] = &[
    (
        "name",
        &[
            "application_name",
            "name",
            "app_name",
            "application",
            "asset_name",
            "server_name",
            "hostname",
            "host_name",
            "system_name",
        ],
    ),
    ("asset_type", &["asset_type", "type", "kind", "category"]),
    (
        "business_criticality",
        &["business_criticality", "criticality", "priority", "tier"],
    ),
    (
        "technical_complexity",
        &["technical_complexity", "complexity"],
    ),
    (
        "dependencies",
        &[
            "dependencies",
            "depends_on",
            "dependency",
            "deps",
            "upstream",
        ],
    ),
    (
        "technology_stack",
        &[
            "technology_stack",
            "tech_stack",
            "technologies",
            "stack",
            "technology",
        ],
    ),
    ("environment", &["environment", "env", "stage"]),
    (
        "owner",
        &[
            "owner",
            "business_owner",
            "application_owner",
            "app_owner",
            "contact",
        ],
    ),
    (
        "monthly_cost",
        &["monthly_cost", "cost_per_month", "monthly_cost_usd", "cost"],
    ),
    (
        "instance_count",
        &["instance_count", "instances", "server_count", "node_count"],
    ),
    (
        "data_size_gb",
        &["data_size_gb", "storage_gb", "data_gb", "disk_gb"],
    ),
    (
        "lifecycle",
        &["lifecycle", "lifecycle_status", "status", "state"],
    ),
    ("operating_system", &["operating_system", "os"]),
];

/// How much the business depends on an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }

    /// 1 (low) ..= 4 (critical).
    pub(crate) fn weight(self) -> u32 {
        match self {
            Criticality::Low => 1,
            Criticality::Medium => 2,
            Criticality::High => 3,
            Criticality::Critical => 4,
        }
    }

    fn parse(v: &Value) -> Option<Criticality> {
        match v {
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "low" | "minor" | "tier 4" | "tier4" | "4" => Some(Criticality::Low),
                "medium" | "moderate" | "normal" | "tier 3" | "tier3" | "3" => {
                    Some(Criticality::Medium)
                }
                "high" | "major" | "tier 2" | "tier2" | "2" => Some(Criticality::High),
                "critical" | "mission critical" | "mission_critical" | "tier 1" | "tier1" | "1" => {
                    Some(Criticality::Critical)
                }
                _ => None,
            },
            // Tiers: 1 is the most critical.
            Value::Number(n) => match n.as_u64()? {
                1 => Some(Criticality::Critical),
                2 => Some(Criticality::High),
                3 => Some(Criticality::Medium),
                4 => Some(Criticality::Low),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Technical complexity on a 1..=10 scale (strings low/medium/high map to 3/5/8).
fn parse_complexity(v: &Value) -> Option<u32> {
    match v {
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "low" | "simple" => Some(3),
            "medium" | "moderate" => Some(5),
            "high" | "complex" => Some(8),
            "very high" | "very_high" => Some(10),
            other => other.parse::<f64>().ok().and_then(scale_complexity),
        },
        Value::Number(n) => n.as_f64().and_then(scale_complexity),
        _ => None,
    }
}

fn scale_complexity(x: f64) -> Option<u32> {
    if (1.0..=10.0).contains(&x) {
        Some(x.round() as u32)
    } else {
        None
    }
}

/// Names from an array of strings or a comma/semicolon separated string.
fn parse_list(v: &Value) -> Vec<String> {
    let items: Vec<String> = match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("name")
                    .or_else(|| o.get("application_name"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Value::String(s) => s.split([',', ';']).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .trim()
            .trim_start_matches('$')
            .replace(',', "")
            .parse()
            .ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite() && *x >= 0.0)
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The raw records of `initial_data.raw_data`: absent or null is no records; anything but
/// an array of objects is a permanent error naming the offending item.
pub(crate) fn raw_records(initial_data: &Value) -> Result<Vec<Map<String, Value>>, PhaseError> {
    let raw = match initial_data.get("raw_data") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(PhaseError::permanent(
                "invalid_raw_data",
                format!(
                    "initial_data.raw_data must be an array of records, got {}",
                    json_type(other)
                ),
            ))
        }
    };
    raw.iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(o) => Ok(o.clone()),
            other => Err(PhaseError::permanent(
                "invalid_raw_data",
                format!(
                    "initial_data.raw_data[{i}] must be an object (an application or server record), got {}",
                    json_type(other)
                ),
            )),
        })
        .collect()
}

pub(crate) use crate::domain::json_kind as json_type;

fn normalise_key(k: &str) -> String {
    k.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

/// Source field → canonical field for every key seen in `records`, plus the keys no alias
/// matched (kept as `attributes`).
pub(crate) fn field_mapping(
    records: &[Map<String, Value>],
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut mapped = BTreeMap::new();
    let mut unmapped = BTreeSet::new();
    for rec in records {
        for key in rec.keys() {
            match canonical_field(key) {
                Some(c) => {
                    mapped.insert(key.clone(), c.to_string());
                }
                None => {
                    unmapped.insert(key.clone());
                }
            }
        }
    }
    (mapped, unmapped)
}

fn canonical_field(key: &str) -> Option<&'static str> {
    let k = normalise_key(key);
    FIELD_ALIASES
        .iter()
        .find(|(_, aliases)| aliases.contains(&k.as_str()))
        .map(|(c, _)| *c)
}

/// A record after field mapping and before cleansing: values still as found.
fn mapped_record(rec: &Map<String, Value>) -> BTreeMap<&'static str, Value> {
    let mut out = BTreeMap::new();
    // Earlier aliases win: walk the alias list in order, not the record's key order.
    for (canonical, aliases) in FIELD_ALIASES {
        for alias in *aliases {
            if let Some((_, v)) = rec.iter().find(|(k, _)| normalise_key(k) == *alias) {
                if !v.is_null() {
                    out.insert(*canonical, v.clone());
                    break;
                }
            }
        }
    }
    out
}

/// One application or server in the canonical schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Asset {
    pub asset_id: String,
    pub name: String,
    pub asset_type: String,
    pub business_criticality: Criticality,
    /// 1..=10.
    pub technical_complexity: u32,
    pub dependencies: Vec<String>,
    pub technology_stack: Vec<String>,
    pub environment: String,
    pub owner: Option<String>,
    pub monthly_cost: Option<f64>,
    pub instance_count: Option<u32>,
    pub data_size_gb: Option<f64>,
    pub lifecycle: Option<String>,
}

/// A change cleansing made to one record, reported in `data_cleansing`'s output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Change {
    pub record: String,
    pub field: &'static str,
    pub from: Value,
    pub to: Value,
}

/// Result of cleansing: the assets, what changed, what was dropped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cleansed {
    pub records_in: usize,
    pub assets: Vec<Asset>,
    pub changes: Vec<Change>,
    pub duplicates_removed: Vec<String>,
    pub dropped_without_name: Vec<usize>,
}

/// Stable id derived from the asset's (case-insensitive) name.
pub(crate) fn asset_id(name: &str) -> String {
    let digest = Sha256::digest(name.trim().to_lowercase().as_bytes());
    format!("asset-{}", &hex::encode(digest)[..12])
}

fn title_or_lower(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Trim, normalise case and enumerations, default missing values, de-duplicate by name
/// (case-insensitive; the first record wins, later fields fill its gaps).
pub(crate) fn cleanse(records: &[Map<String, Value>]) -> Cleansed {
    let mut out = Cleansed {
        records_in: records.len(),
        ..Cleansed::default()
    };
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for (i, rec) in records.iter().enumerate() {
        let m = mapped_record(rec);
        let Some(raw_name) = m.get("name").and_then(as_text) else {
            out.dropped_without_name.push(i);
            continue;
        };
        let name = title_or_lower(&raw_name);
        if name.is_empty() {
            out.dropped_without_name.push(i);
            continue;
        }
        let mut changes = Vec::new();
        if name != raw_name {
            changes.push(change(
                &name,
                "name",
                Value::String(raw_name.clone()),
                &name,
            ));
        }
        let criticality = match m.get("business_criticality") {
            None => {
                changes.push(change(&name, "business_criticality", Value::Null, "medium"));
                Criticality::Medium
            }
            Some(v) => match Criticality::parse(v) {
                Some(c) => {
                    if v.as_str() != Some(c.as_str()) {
                        changes.push(change(&name, "business_criticality", v.clone(), c.as_str()));
                    }
                    c
                }
                None => {
                    changes.push(change(&name, "business_criticality", v.clone(), "medium"));
                    Criticality::Medium
                }
            },
        };
        let complexity = match m.get("technical_complexity") {
            None => {
                changes.push(change_n(&name, "technical_complexity", Value::Null, 5));
                5
            }
            Some(v) => match parse_complexity(v) {
                Some(c) => c,
                None => {
                    changes.push(change_n(&name, "technical_complexity", v.clone(), 5));
                    5
                }
            },
        };
        let environment = match m.get("environment").and_then(as_text) {
            Some(e) => {
                let norm = normalise_environment(&e);
                if norm != e {
                    changes.push(change(&name, "environment", Value::String(e), &norm));
                }
                norm
            }
            None => {
                changes.push(change(&name, "environment", Value::Null, "production"));
                "production".to_string()
            }
        };
        let asset_type = m
            .get("asset_type")
            .and_then(as_text)
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application".to_string());
        let mut tech: Vec<String> = m
            .get("technology_stack")
            .map(parse_list)
            .unwrap_or_default();
        let before_tech = tech.clone();
        tech = dedup_case_insensitive(tech.into_iter().map(|t| title_or_lower(&t)).collect());
        if tech != before_tech {
            changes.push(Change {
                record: name.clone(),
                field: "technology_stack",
                from: Value::from(before_tech),
                to: Value::from(tech.clone()),
            });
        }
        let mut deps: Vec<String> = m.get("dependencies").map(parse_list).unwrap_or_default();
        deps = dedup_case_insensitive(deps.into_iter().map(|d| title_or_lower(&d)).collect());
        deps.retain(|d| !d.eq_ignore_ascii_case(&name));
        let asset = Asset {
            asset_id: asset_id(&name),
            name: name.clone(),
            asset_type,
            business_criticality: criticality,
            technical_complexity: complexity,
            dependencies: deps,
            technology_stack: tech,
            environment,
            owner: m
                .get("owner")
                .and_then(as_text)
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty()),
            monthly_cost: m.get("monthly_cost").and_then(parse_number),
            instance_count: m
                .get("instance_count")
                .and_then(parse_number)
                .map(|x| x.round() as u32),
            data_size_gb: m.get("data_size_gb").and_then(parse_number),
            lifecycle: m
                .get("lifecycle")
                .and_then(as_text)
                .map(|s| s.trim().to_ascii_lowercase()),
        };
        let key = name.to_lowercase();
        match by_key.get(&key) {
            Some(&idx) => {
                out.duplicates_removed.push(name);
                merge_into(&mut out.assets[idx], asset);
            }
            None => {
                by_key.insert(key, out.assets.len());
                out.assets.push(asset);
                out.changes.extend(changes);
            }
        }
    }
    out
}

fn merge_into(first: &mut Asset, later: Asset) {
    first.owner = first.owner.take().or(later.owner);
    first.monthly_cost = first.monthly_cost.or(later.monthly_cost);
    first.instance_count = first.instance_count.or(later.instance_count);
    first.data_size_gb = first.data_size_gb.or(later.data_size_gb);
    first.lifecycle = first.lifecycle.take().or(later.lifecycle);
    for d in later.dependencies {
        if !first
            .dependencies
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&d))
        {
            first.dependencies.push(d);
        }
    }
    for t in later.technology_stack {
        if !first
            .technology_stack
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&t))
        {
            first.technology_stack.push(t);
        }
    }
}

fn dedup_case_insensitive(items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|s| seen.insert(s.to_lowercase()))
        .collect()
}

fn normalise_environment(e: &str) -> String {
    let l = e.trim().to_ascii_lowercase();
    match l.as_str() {
        "prod" | "prd" | "production" | "live" => "production".to_string(),
        "stage" | "staging" | "stg" | "preprod" | "pre-production" => "staging".to_string(),
        "dev" | "development" => "development".to_string(),
        "test" | "testing" | "qa" | "uat" => "test".to_string(),
        "" => "production".to_string(),
        _ => l,
    }
}

fn change(record: &str, field: &'static str, from: Value, to: &str) -> Change {
    Change {
        record: record.to_string(),
        field,
        from,
        to: Value::String(to.to_string()),
    }
}

fn change_n(record: &str, field: &'static str, from: Value, to: u32) -> Change {
    Change {
        record: record.to_string(),
        field,
        from,
        to: Value::from(to),
    }
}

/// The cleansed assets of a flow's `initial_data` (every flow type starts from here).
pub(crate) fn assets(initial_data: &Value) -> Result<Vec<Asset>, PhaseError> {
    Ok(cleanse(&raw_records(initial_data)?).assets)
}

/// Does the technology stack contain any of `markers` (case-insensitive substring)?
pub(crate) fn stack_has(asset: &Asset, markers: &[&str]) -> bool {
    asset.technology_stack.iter().any(|t| {
        let t = t.to_lowercase();
        markers.iter().any(|m| t.contains(m))
    })
}

/// Technologies that make a move hard: refactor or retain candidates.
pub(crate) const LEGACY_TECH: &[&str] = &[
    "cobol",
    "mainframe",
    "as/400",
    "as400",
    "vb6",
    "visual basic 6",
    "powerbuilder",
    "delphi",
    ".net framework",
    "classic asp",
    "fortran",
    "solaris",
    "aix",
    "websphere",
    "weblogic",
    "coldfusion",
];

/// Technologies typically replaced by a SaaS product: repurchase candidates.
pub(crate) const COMMERCIAL_TECH: &[&str] = &[
    "exchange",
    "sharepoint",
    "dynamics",
    "siebel",
    "peoplesoft",
    "lotus",
    "crm",
    "erp",
    "sap",
];

/// Runtimes that move to containers or managed platforms with little change.
pub(crate) const PLATFORM_TECH: &[&str] = &[
    "java",
    "spring",
    ".net",
    "node",
    "python",
    "php",
    "ruby",
    "go",
    "tomcat",
    "postgres",
    "mysql",
    "oracle",
    "sql server",
    "mssql",
    "redis",
    "nginx",
    "apache",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_aliases_and_deduplicates_case_insensitively() {
        let data = json!({"raw_data": [
            {"application_name": " CRM  App ", "business_criticality": "HIGH", "dependencies": "Billing, auth"},
            {"name": "crm app", "owner": "ops", "tech_stack": ["Java", "java"]},
            {"hostname": "billing", "criticality": 1, "env": "prod"},
            {"foo": "no name"}
        ]});
        let c = cleanse(&raw_records(&data).unwrap());
        assert_eq!(c.records_in, 4);
        assert_eq!(c.assets.len(), 2);
        assert_eq!(c.duplicates_removed, vec!["crm app".to_string()]);
        assert_eq!(c.dropped_without_name, vec![3]);
        let crm = &c.assets[0];
        assert_eq!(crm.name, "CRM App");
        assert_eq!(crm.business_criticality, Criticality::High);
        assert_eq!(crm.owner.as_deref(), Some("ops"));
        assert_eq!(crm.dependencies, vec!["Billing", "auth"]);
        assert_eq!(crm.technology_stack, vec!["Java"]);
        assert_eq!(c.assets[1].business_criticality, Criticality::Critical);
        assert_eq!(c.assets[1].environment, "production");
        assert_eq!(crm.asset_id, asset_id("crm app"));
    }

    #[test]
    fn malformed_raw_data_names_the_problem() {
        let e = raw_records(&json!({"raw_data": "x"})).unwrap_err();
        assert!(e.message.contains("got a string"), "{}", e.message);
        let e = raw_records(&json!({"raw_data": [{}, 3]})).unwrap_err();
        assert!(e.message.contains("raw_data[1]"), "{}", e.message);
        assert!(raw_records(&json!({})).unwrap().is_empty());
    }
}
