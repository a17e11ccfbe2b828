//! The run-result model: what one `flowgate run` / `validate` / `load` produced.
//!
//! This is the stable machine format (JSON, `schema_version`), the input of every
//! renderer and of `report diff`. Producers (the harness runner, the load runner) fill it;
//! nothing in here talks to the network.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::verdict::Verdict;

mod load;
pub use load::*;

/// The category of the checks judged over a run's whole history (not scenarios of the
/// suite: the target profile declares them).
pub const PROPERTIES_CATEGORY: &str = "properties";

/// Bumped on any incompatible change to the JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

/// One run: every scenario that was selected, every load phase, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    /// flowgate's own name and version.
    pub tool: ToolInfo,
    pub target: TargetInfo,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The gating policy in force when the verdict was computed.
    pub policy: GatingPolicy,
    pub scenarios: Vec<ScenarioResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadResult>,
    /// Present when the run was a defect-injection self-check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selfcheck: Option<SelfCheck>,
    /// What the run was asked to check: the suite before filters, and the filters.
    #[serde(default)]
    pub selection: Selection,
    /// Operations × status codes of the target's OpenAPI document that the run
    /// exercised (when the profile names `openapi_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<ApiCoverage>,
}

/// How much of the target's documented API a run exercised (APISnoop's question).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiCoverage {
    /// Where the document came from.
    pub source: String,
    /// Every documented operation, with its documented statuses and those seen.
    pub operations: Vec<OperationCoverage>,
    /// Answers whose status the matching operation does not document:
    /// `GET /api/v1/flows/{flow_id} → 418` (each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undocumented: Vec<String>,
    /// Requests that matched no documented operation.
    #[serde(default)]
    pub unmatched_requests: usize,
    /// Set when the document could not be read or understood: no figures then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCoverage {
    pub method: String,
    /// The path template as documented: `/api/v1/flows/{flow_id}`.
    pub path: String,
    /// Documented response statuses (`"200"`, `"4XX"`, `"default"`).
    pub documented: Vec<String>,
    /// Statuses the run saw, sorted.
    pub seen: Vec<u16>,
}

impl ApiCoverage {
    /// (exercised, documented) pairs of operation × documented status; a status range
    /// (`4XX`) or `default` counts as exercised by any status it covers.
    pub fn response_pairs(&self) -> (usize, usize) {
        let mut hit = 0;
        let mut all = 0;
        for op in &self.operations {
            for d in &op.documented {
                all += 1;
                if op.seen.iter().any(|s| status_matches(d, *s)) {
                    hit += 1;
                }
            }
        }
        (hit, all)
    }

    /// Exercised documented responses in percent (`None` when nothing is documented).
    pub fn percent(&self) -> Option<f64> {
        let (hit, all) = self.response_pairs();
        (all > 0 && self.error.is_none()).then(|| hit as f64 * 100.0 / all as f64)
    }

    /// Documented responses the run never saw: `GET /api/v1/flows → 503`.
    pub fn never_exercised(&self) -> Vec<String> {
        self.operations
            .iter()
            .flat_map(|op| {
                op.documented
                    .iter()
                    .filter(|d| !op.seen.iter().any(|s| status_matches(d, *s)))
                    .map(move |d| format!("{} {} → {d}", op.method, op.path))
            })
            .collect()
    }

    /// Operations with at least one request.
    pub fn operations_exercised(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| !o.seen.is_empty())
            .count()
    }
}

/// Whether a documented status key (`"404"`, `"4XX"`, `"default"`) covers `status`.
pub fn status_matches(documented: &str, status: u16) -> bool {
    match documented {
        "default" => true,
        d if d.len() == 3 && d.ends_with("XX") => {
            d.as_bytes()[0].is_ascii_digit() && u16::from(d.as_bytes()[0] - b'0') == status / 100
        }
        d => d.parse::<u16>() == Ok(status),
    }
}

/// What a run was asked to check. The verdict needs it: a category of the suite that ran
/// no check blocks sign-off unless the run was narrowed on purpose.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Selection {
    /// Categories of the whole suite, before any filter (empty: unknown, e.g. an old
    /// result file).
    #[serde(default)]
    pub suite_categories: Vec<String>,
    /// Scenarios in the whole suite, before any filter.
    #[serde(default)]
    pub suite_scenarios: usize,
    /// The filters that narrowed the run, as the user gave them (`--tag p0`,
    /// `--skip-tag slow`, `--name cancel`, `load phase only`); empty: the whole suite.
    #[serde(default)]
    pub filters: Vec<String>,
    /// sha256 over the suite's files (see `flowgate_harness::Suite::digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite_digest: Option<String>,
    /// `--certify`: the run refused filters that drop a `must`, and is certified only if
    /// every `must` ran and passed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub certify: bool,
    /// `--min-coverage P`: the run fails unless it exercised at least P% of the documented
    /// responses of the target's OpenAPI document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_coverage: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    /// The commit flowgate was built from, when it was built from a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The system under test, as far as the run could tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The profile's name (e.g. "reference", "seed-original").
    pub name: String,
    pub base_url: String,
    /// Name of the system, from its health endpoint when it says (e.g. "flowgate-reference").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Version of the system, from its health endpoint when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Defects the reference server was started with (self-check and seed reproduction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defects: Vec<String>,
    /// The database backend, when the target's health answer names it
    /// (`$.database.backend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The profile lets the client follow redirects (`follow_redirects: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follows_redirects: bool,
    /// The profile's `cleanup` setting; absent when it declares no `resources` to clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<bool>,
}

/// How bad a failing check is. Ordered: `Critical` is the most severe. Scenario files
/// use the same type (`flowgate_harness::model::Severity` is this one).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    #[default]
    Moderate,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Moderate => "moderate",
            Severity::Low => "low",
        }
    }
}

/// How binding a scenario's requirement is (RFC 2119). `--certify` needs every `must`
/// to run and pass; reports give a pass rate per level.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// An implementation that fails it does not conform.
    #[default]
    Must,
    /// Expected of a good implementation; a failure needs a reason.
    Should,
    /// Optional behaviour (a test hook, a capability few targets have).
    May,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Must, Level::Should, Level::May];
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
    /// `MUST`, `SHOULD`, `MAY`, as RFC 2119 writes them.
    pub fn keyword(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// The outcome of a scenario or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// An assertion did not hold: the target misbehaved.
    Failed,
    /// The check could not be carried out: target unreachable, timeout at the transport
    /// level, a broken data file... Told apart from `Failed` everywhere (JUnit `<error>`,
    /// exit code 3).
    Error,
    /// Not run (filtered out at run time, an earlier step failed, `--fail-fast`).
    Skipped,
    /// Failed, but a current waiver covers it.
    Waived,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Waived => "waived",
        }
    }
}

/// One scenario file's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Stable id: the scenario file's path relative to the suite root, without extension
    /// (e.g. `tenant_isolation/cross_tenant_matrix`). `report diff` keys on it.
    pub id: String,
    pub name: String,
    pub file: String,
    /// health | flow_creation | flow_execution | error_handling | tenant_isolation |
    /// concurrency | performance | load | ... (free text, lower snake case).
    pub category: String,
    pub severity: Severity,
    /// The requirement's level (`must` when a result predates levels).
    #[serde(default)]
    pub level: Level,
    /// The requirement the scenario checks, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Shown in reports when the scenario fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The scenario's own words on what makes it fail, shown as context ("this check
    /// fails when …") under the finding, which is always what was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails_when: Option<String>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub steps: Vec<StepResult>,
    /// Latency and rate figures this scenario measured against a target
    /// (feed the performance table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    /// Set when `outcome == Waived` (or when an expired waiver matched: then the outcome
    /// stays `Failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
    /// What the scenario created on the target and what the harness removed afterwards
    /// (absent when the profile declares no `resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<Cleanup>,
}

/// Resources a scenario created on the target, and their removal after its teardown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleanup {
    pub created: usize,
    pub deleted: usize,
    /// `DELETE /api/v1/flows/… → 500`, one per resource that is still there (or whose
    /// removal was not attempted because the profile says `cleanup: false`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<String>,
}

/// One step (request, poll, parallel, for_each iteration...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    /// request | poll | parallel | for_each | use | matrix | setup | teardown
    pub kind: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// One line saying what happened ("200 in 12 ms", "status stayed `initialized` for 5 s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// For polls: the distinct states seen, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states_seen: Vec<String>,
    /// Every HTTP exchange the step made (capped; secrets masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
    /// Nested results (parallel copies, for_each iterations, matrix cells).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<StepResult>,
}

/// Why a step failed, in terms a reader can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// One line: "expected status 404, got 200".
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The start of the response body (capped, secrets masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    /// A curl command line that reproduces the request, secrets masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
}

/// One HTTP request/response pair, as recorded for a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    /// Full URL, secrets masked.
    pub url: String,
    /// None when no response arrived (connection refused, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub duration_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The URL that finally answered, when the client followed redirects to it
    /// (profile `follow_redirects: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirected_to: Option<String>,
}

/// A figure compared with a target: one row of the performance table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// "POST /api/v1/flows latency (p95)", "Flow completion rate", ...
    pub metric: String,
    /// The measured value, in `unit`.
    pub value: f64,
    /// ms | % | req/s | count
    pub unit: String,
    /// The target as written: "< 1000ms", ">= 90%".
    pub target: String,
    pub passed: bool,
}

/// A known failure accepted for now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiver {
    /// Scenario id or name the waiver covers.
    pub scenario: String,
    pub owner: String,
    pub reason: String,
    /// Last day the waiver applies (inclusive), `YYYY-MM-DD`.
    pub expires: chrono::NaiveDate,
    /// True when the waiver had expired at run time (the failure then counts).
    #[serde(default)]
    pub expired: bool,
}

/// Which failures make the run fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatingPolicy {
    /// Failures of this severity or worse fail the run; `None` means any failure does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Severity>,
}

/// The defect-injection matrix: which injected defect the suite caught, and with what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfCheck {
    pub defects: Vec<DefectDetection>,
    /// Scenarios that failed against the correct server (should be empty).
    #[serde(default)]
    pub false_alarms: Vec<String>,
    /// Each defect's run stopped at its first catcher (`selfcheck --quick`): the
    /// catchers are a lower bound and redundancy is not measured.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quick: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefectDetection {
    pub defect: String,
    pub description: String,
    /// Scenario ids that failed with this defect on.
    pub caught_by: Vec<String>,
    /// What `flowgate explore` found with this defect on (`selfcheck --explore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore: Option<ExploreCatch>,
}

/// One exploration of a defective server: the property it broke, and how soon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreCatch {
    /// The property broken (`None`: every property held).
    pub property: Option<String>,
    pub seed: u64,
    /// Steps taken until the check that saw it (or in all).
    pub steps: usize,
    /// Seconds from the first step to that check (or in all).
    pub seconds: f64,
    /// Steps of the shrunk reproduction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repro_steps: Option<usize>,
}

impl DefectDetection {
    /// Caught by a scenario, a property of the suite's run, or the explorer.
    pub fn is_caught(&self) -> bool {
        !self.caught_by.is_empty() || self.explore.as_ref().is_some_and(|e| e.property.is_some())
    }

    /// The explorer's column: `aggregates (120 steps, 2.1 s; repro 4 steps)`.
    pub fn explore_text(&self) -> Option<String> {
        let e = self.explore.as_ref()?;
        Some(match &e.property {
            Some(p) => format!(
                "{p} ({} steps, {:.1} s{})",
                e.steps,
                e.seconds,
                e.repro_steps
                    .map(|n| format!("; repro {n} steps"))
                    .unwrap_or_default()
            ),
            None => format!("nothing in {} steps", e.steps),
        })
    }
}

impl SelfCheck {
    /// Share of defects caught by at least one scenario, 0..=1.
    pub fn detection_rate(&self) -> f64 {
        if self.defects.is_empty() {
            return 0.0;
        }
        self.caught() as f64 / self.defects.len() as f64
    }

    /// Defects that exactly one scenario catches: a suite that certifies releases should
    /// not rest on one scenario per bug class (meaningless with `quick`).
    pub fn single_catchers(&self) -> Vec<&str> {
        self.defects
            .iter()
            .filter(|d| d.caught_by.len() == 1)
            .map(|d| d.defect.as_str())
            .collect()
    }

    /// Defects caught by at least one scenario or by the explorer.
    pub fn caught(&self) -> usize {
        self.defects.iter().filter(|d| d.is_caught()).count()
    }

    /// Whether the explorer ran for these defects (its column is shown).
    pub fn explored(&self) -> bool {
        self.defects.iter().any(|d| d.explore.is_some())
    }
}

/// Counts over the scenarios of a run (load phases count as scenarios too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    pub skipped: usize,
    pub waived: usize,
}

impl Summary {
    /// Success rate in percent over the checks that ran (skipped ones excluded),
    /// `passed / (total - skipped)`. Waived failures do not count as passed.
    pub fn success_rate(&self) -> f64 {
        let ran = self.total - self.skipped;
        if ran == 0 {
            return 0.0;
        }
        self.passed as f64 * 100.0 / ran as f64
    }
}

impl RunReport {
    /// A report with no results yet; producers push scenarios and load results into it.
    pub fn new(target: TargetInfo, policy: GatingPolicy, started_at: DateTime<Utc>) -> Self {
        RunReport {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "flowgate".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                commit: None,
            },
            target,
            started_at,
            finished_at: started_at,
            duration_ms: 0,
            policy,
            scenarios: Vec::new(),
            load: Vec::new(),
            selfcheck: None,
            coverage: None,
            selection: Selection::default(),
        }
    }

    /// What the run's scenarios created on the target and what is left of it, summed
    /// over the scenarios; `None` when no scenario tracked its resources.
    pub fn cleanup_totals(&self) -> Option<Cleanup> {
        let mut total: Option<Cleanup> = None;
        for c in self.scenarios.iter().filter_map(|s| s.cleanup.as_ref()) {
            let t = total.get_or_insert_with(Cleanup::default);
            t.created += c.created;
            t.deleted += c.deleted;
            t.left_behind.extend(c.left_behind.iter().cloned());
        }
        total
    }

    /// Every check's (id, name, severity, outcome): scenarios, then load phases.
    pub fn checks(&self) -> impl Iterator<Item = (&str, &str, Severity, Outcome)> {
        self.scenarios
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str(), s.severity, s.outcome))
            .chain(
                self.load
                    .iter()
                    .map(|l| (l.id.as_str(), l.name.as_str(), l.severity, l.outcome)),
            )
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for (_, _, _, outcome) in self.checks() {
            s.total += 1;
            match outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Error => s.errored += 1,
                Outcome::Skipped => s.skipped += 1,
                Outcome::Waived => s.waived += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(outcomes: &[(Severity, Outcome)], fail_on: Option<Severity>) -> RunReport {
        let target = TargetInfo {
            name: "t".into(),
            base_url: "http://127.0.0.1:1".into(),
            system: None,
            version: None,
            defects: vec![],
            database: None,
            follows_redirects: false,
            cleanup: None,
        };
        let mut r = RunReport::new(target, GatingPolicy { fail_on }, Utc::now());
        for (i, (severity, outcome)) in outcomes.iter().enumerate() {
            r.scenarios.push(ScenarioResult {
                id: format!("s{i}"),
                name: format!("s{i}"),
                file: format!("s{i}.yaml"),
                category: "health".into(),
                severity: *severity,
                level: Level::Must,
                requirement: None,
                tags: vec![],
                description: None,
                remediation: None,
                fails_when: None,
                outcome: *outcome,
                duration_ms: 1,
                steps: vec![],
                measurements: vec![],
                waiver: None,
                cleanup: None,
            });
        }
        r
    }

    #[test]
    fn seed_success_rate_is_62_5() {
        let mut o = vec![(Severity::Moderate, Outcome::Passed); 5];
        o.extend([(Severity::Critical, Outcome::Failed); 3]);
        let r = report_with(&o, None);
        assert_eq!(r.summary().success_rate(), 62.5);
        assert_eq!(r.verdict(), Verdict::Fail);
        assert_eq!(r.exit_code(), 1);
    }

    #[test]
    fn policy_ignores_failures_below_threshold() {
        let r = report_with(
            &[
                (Severity::Low, Outcome::Failed),
                (Severity::Critical, Outcome::Passed),
            ],
            Some(Severity::High),
        );
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = report_with(&[(Severity::High, Outcome::Failed)], Some(Severity::High));
        assert_eq!(r.verdict(), Verdict::Fail);
    }

    #[test]
    fn infrastructure_error_wins() {
        let r = report_with(
            &[
                (Severity::Critical, Outcome::Failed),
                (Severity::Low, Outcome::Error),
            ],
            None,
        );
        assert_eq!(r.exit_code(), 3);
    }

    #[test]
    fn waived_is_not_gating_but_is_named_in_the_verdict() {
        let r = report_with(&[(Severity::Critical, Outcome::Waived)], None);
        assert_eq!(r.verdict(), Verdict::PassWithWaivers);
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn nothing_checked_is_no_verdict() {
        let r = report_with(&[], None);
        assert_eq!(r.verdict(), Verdict::NoVerdict);
        assert_eq!(r.exit_code(), 1);
        let r = report_with(&[(Severity::Critical, Outcome::Skipped)], None);
        assert_eq!(r.verdict(), Verdict::NoVerdict);
    }
}
