//! The scenario, library and target-profile file formats (see `SCENARIOS.md`).
//!
//! The same types drive the parser (serde, `deny_unknown_fields`) and the published JSON
//! Schema (schemars), so the two cannot disagree. Values that need a semantic check
//! (assertion objects, "exactly one kind key") are validated after parsing by the loader,
//! which reports the YAML position of the offending node.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

pub use super::target_profile::*;

/// A duration written as text: `200ms`, `30s`, `1m 30s` (humantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(Dur)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration `{text}` ({e}); expected e.g. `200ms`, `30s`"
                ))
            })
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `200ms`, `30s`, `2m`.",
            "pattern": "^\\s*[0-9]+\\s*[a-zµ]+(\\s*[0-9]+\\s*[a-zµ]+)*\\s*$"
        })
    }
}

/// How bad a failure of this scenario is: the result model's own type.
pub use flowgate_reports::Severity;

/// How binding a requirement is: the result model's own type.
pub use flowgate_reports::Level;

/// One scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flowgate scenario")]
pub struct Scenario {
    /// Unique in the suite.
    pub name: String,
    /// health | flow_creation | flow_execution | error_handling | tenant_isolation |
    /// concurrency | performance | load | your own (snake_case).
    pub category: String,
    pub severity: Severity,
    /// How binding the requirement is: `must` (default), `should` or `may` (RFC 2119).
    /// `run --certify` needs every `must` to run and pass.
    #[serde(default)]
    pub level: Level,
    /// The requirement this scenario checks, in one sentence (default: its name). The
    /// conformance document (`flowgate docs`) lists it.
    #[serde(default)]
    pub requirement: Option<String>,
    /// Sections of the contract it checks, e.g. `API.md#errors`.
    #[serde(default)]
    pub cites: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What to fix when this scenario fails (shown in reports).
    #[serde(default)]
    pub remediation: Option<String>,
    /// The server behaviour that makes this scenario fail.
    #[serde(default)]
    pub fails_when: Option<String>,
    /// Capabilities the target profile must declare, else the scenario is skipped.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Scenario variables, evaluated in order (may use `{{ }}`).
    #[serde(default)]
    pub variables: Map<String, Value>,
    #[serde(default)]
    pub setup: Vec<Step>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Always runs, even after a failure; never fails the scenario.
    #[serde(default)]
    pub teardown: Vec<Step>,
    /// A load phase (instead of `steps`), run by the load runner.
    #[serde(default)]
    pub load: Option<LoadPhase>,
}

impl Scenario {
    /// The requirement as the conformance document states it: `requirement`, else the
    /// scenario's name.
    pub fn requirement_text(&self) -> &str {
        self.requirement
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.name)
    }
}

/// One step. Exactly one kind key (`request`, `poll`, `parallel`, `for_each`, `use`,
/// `matrix`) must be present; the loader checks it and reports where.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["request"]}, {"required": ["poll"]}, {"required": ["parallel"]},
    {"required": ["for_each"]}, {"required": ["use"]}, {"required": ["matrix"]}
]))]
pub struct Step {
    pub name: String,
    /// Identity from the target profile (default: its `default_identity`).
    #[serde(default, rename = "as")]
    pub identity: Option<String>,
    /// Wait this long before the step.
    #[serde(default)]
    pub delay: Option<Dur>,
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Assertions on the response of `request`.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Variables taken from the response of `request` (or the last response of `poll`).
    #[serde(default)]
    pub capture: Option<BTreeMap<String, CaptureSpec>>,
    #[serde(default)]
    pub poll: Option<Poll>,
    #[serde(default)]
    pub parallel: Option<Parallel>,
    #[serde(default)]
    pub for_each: Option<ForEach>,
    /// A template name from a library file.
    #[serde(default, rename = "use")]
    pub use_template: Option<String>,
    /// Parameters for `use`.
    #[serde(default, rename = "with")]
    pub with: Option<Map<String, Value>>,
    #[serde(default)]
    pub matrix: Option<Matrix>,
}

/// The kind of a step, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Request,
    Poll,
    Parallel,
    ForEach,
    Use,
    Matrix,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Request => "request",
            StepKind::Poll => "poll",
            StepKind::Parallel => "parallel",
            StepKind::ForEach => "for_each",
            StepKind::Use => "use",
            StepKind::Matrix => "matrix",
        }
    }
}

impl Step {
    /// The kind keys present on this step, in declaration order of the format.
    pub fn kinds(&self) -> Vec<StepKind> {
        let mut k = Vec::new();
        if self.request.is_some() {
            k.push(StepKind::Request);
        }
        if self.poll.is_some() {
            k.push(StepKind::Poll);
        }
        if self.parallel.is_some() {
            k.push(StepKind::Parallel);
        }
        if self.for_each.is_some() {
            k.push(StepKind::ForEach);
        }
        if self.use_template.is_some() {
            k.push(StepKind::Use);
        }
        if self.matrix.is_some() {
            k.push(StepKind::Matrix);
        }
        k
    }

    /// The step's kind; only meaningful after loading (the loader rejects none or several).
    pub fn kind(&self) -> StepKind {
        self.kinds().first().copied().unwrap_or(StepKind::Request)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Method {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    HEAD,
    OPTIONS,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
        }
    }

    pub fn to_http(self) -> reqwest::Method {
        match self {
            Method::GET => reqwest::Method::GET,
            Method::POST => reqwest::Method::POST,
            Method::PUT => reqwest::Method::PUT,
            Method::PATCH => reqwest::Method::PATCH,
            Method::DELETE => reqwest::Method::DELETE,
            Method::HEAD => reqwest::Method::HEAD,
            Method::OPTIONS => reqwest::Method::OPTIONS,
        }
    }
}

/// An HTTP request. `json`, `body` and `body_size` are mutually exclusive.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: Method,
    /// Joined to the profile's `base_url`; may be an absolute URL.
    pub path: String,
    #[serde(default)]
    pub query: Map<String, Value>,
    /// Merged over the identity's headers; `null` removes an identity header.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// JSON body (sets `Content-Type: application/json`).
    #[serde(default)]
    pub json: Option<Value>,
    /// Raw body text.
    #[serde(default)]
    pub body: Option<String>,
    /// A generated body of N bytes (`a` × N).
    #[serde(default)]
    pub body_size: Option<u64>,
    /// Content-Type for `body` / `body_size`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Overrides the profile's request timeout.
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// Expected status: one code, a list, or a `{{ variable }}` holding either.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a status code, a list of status codes, or a \"{{ variable }}\""
)]
pub enum StatusSpec {
    One(u16),
    Any(Vec<u16>),
    Template(String),
}

/// Assertions on a response. Every given key must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// Header name (case-insensitive) → assertion.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, AssertionSchema>")]
    pub headers: Map<String, Value>,
    /// JSONPath (RFC 9535) → assertion.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, AssertionSchema>")]
    pub json: Map<String, Value>,
    /// Assertion on the raw body text.
    #[serde(default)]
    #[schemars(with = "Option<AssertionSchema>")]
    pub body: Option<Value>,
    /// A JSON Schema: a file path relative to the scenario, or an inline object.
    #[serde(default)]
    pub schema: Option<Value>,
    /// Response time limit (recorded as a measurement too).
    #[serde(default)]
    pub max_duration: Option<Dur>,
}

/// Schema-only description of an assertion value: a scalar (equals), a list (one_of) or
/// an operator object.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub(crate) enum AssertionSchema {
    Operators(Operators),
    OneOf(Vec<Value>),
    Equals(Value),
}

/// JSON types for the `type` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

/// Assertion operators; an object may combine several, all must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operators {
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    #[serde(default)]
    pub not_one_of: Option<Vec<Value>>,
    /// Substring of a string, element of an array, key of an object.
    #[serde(default)]
    pub contains: Option<Value>,
    /// A value or a list of values, none of which may be contained.
    #[serde(default)]
    pub not_contains: Option<Value>,
    /// Regular expression (Rust `regex` syntax).
    #[serde(default)]
    pub matches: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default, rename = "type")]
    pub json_type: Option<JsonType>,
    #[serde(default)]
    pub length: Option<u64>,
    #[serde(default)]
    pub min_length: Option<u64>,
    #[serde(default)]
    pub max_length: Option<u64>,
    #[serde(default)]
    pub gt: Option<Value>,
    #[serde(default)]
    pub gte: Option<Value>,
    #[serde(default)]
    pub lt: Option<Value>,
    #[serde(default)]
    pub lte: Option<Value>,
    #[serde(default)]
    pub not_empty: Option<bool>,
    /// An array that holds these values in this order, other values possibly between
    /// them (a log's required entries without fixing the whole log).
    #[serde(default)]
    pub in_order: Option<Vec<Value>>,
    /// An array of numbers (or of strings) each strictly greater than the one before.
    #[serde(default)]
    pub increasing: Option<bool>,
}

/// Where a captured value comes from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a JSONPath string, `{ header: NAME }` or `{ status: true }`"
)]
pub enum CaptureSpec {
    /// JSONPath on the response body.
    Json(String),
    Header(HeaderCapture),
    Status(StatusCapture),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderCapture {
    pub header: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCapture {
    pub status: bool,
}

/// Repeat a request until a condition holds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    pub request: RequestSpec,
    /// The poll passes when this expect block holds.
    pub until: Expect,
    /// Any match ends the poll as a failure.
    #[serde(default)]
    pub fail_fast: Option<Expect>,
    /// Time between requests (default 200ms).
    #[serde(default)]
    pub interval: Option<Dur>,
    /// Default: the profile's poll timeout.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// JSONPath of the state whose distinct values are recorded.
    #[serde(default)]
    pub track: Option<String>,
    /// A state machine of the profile the tracked states must obey.
    #[serde(default)]
    pub state_machine: Option<String>,
    /// JSONPaths of numbers that must never go down.
    #[serde(default)]
    pub monotonic: Vec<String>,
    #[serde(default)]
    pub order: Option<OrderSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    pub path: String,
    pub values: Vec<String>,
}

/// N concurrent copies of a list of steps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parallel {
    pub copies: u32,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub expect: Option<ParallelExpect>,
    /// After the step, `{{ NAME }}` is the array of a capture over the copies.
    #[serde(default)]
    pub collect: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParallelExpect {
    /// Default true, unless `min_passed` or `max_passed` is given.
    #[serde(default)]
    pub all_passed: Option<bool>,
    #[serde(default)]
    pub distinct: Vec<String>,
    #[serde(default)]
    pub same: Vec<String>,
    #[serde(default)]
    pub max_passed: Option<u32>,
    #[serde(default)]
    pub min_passed: Option<u32>,
}

/// Data-driven steps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    #[serde(default)]
    pub items: Option<Vec<Value>>,
    /// A YAML/JSON list, relative to the scenario file.
    #[serde(default)]
    pub items_file: Option<String>,
    /// Default `item`.
    #[serde(default)]
    pub var: Option<String>,
    pub steps: Vec<Step>,
}

/// The cross-tenant access matrix.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    pub owners: Vec<String>,
    pub intruders: Vec<String>,
    pub create: MatrixRequest,
    /// JSONPaths into the create response whose values must never appear in an
    /// intruder response.
    #[serde(default)]
    pub markers: Vec<String>,
    pub attempts: Vec<MatrixAttempt>,
    pub denied: Expect,
    #[serde(default)]
    pub list: Option<MatrixRequest>,
    #[serde(default)]
    pub verify: Option<MatrixRequest>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixRequest {
    pub request: RequestSpec,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    pub capture: Option<BTreeMap<String, CaptureSpec>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixAttempt {
    pub name: String,
    pub request: RequestSpec,
}

/// A library file (`lib/*.yaml`): reusable step templates.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Library {
    pub templates: BTreeMap<String, Template>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default)]
    pub description: Option<String>,
    /// Required parameters.
    #[serde(default)]
    pub params: Vec<String>,
    pub steps: Vec<Step>,
}

/// A load phase, executed by the load runner on goose.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadPhase {
    pub users: u64,
    /// Users started per second.
    #[serde(default)]
    pub increase_rate: Option<f64>,
    #[serde(default)]
    pub duration: Option<Dur>,
    #[serde(default)]
    pub iterations: Option<u64>,
    /// `100ms` or a uniform range `100ms..500ms`.
    #[serde(default)]
    pub think_time: Option<String>,
    /// Cap on requests per second.
    #[serde(default)]
    pub throttle: Option<u64>,
    /// Users are spread round-robin over these identities.
    #[serde(default)]
    pub identities: Vec<String>,
    pub transactions: Vec<Transaction>,
    /// `"p95 < 250ms"`, `"create flow: p99 < 500ms"`, `"error_rate < 0.1%"`...
    #[serde(default)]
    pub thresholds: Vec<String>,
    /// Time-series bucket.
    #[serde(default)]
    pub windows: Option<Dur>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub name: String,
    #[serde(default)]
    pub weight: Option<u32>,
    /// `request` and `poll` steps.
    pub steps: Vec<Step>,
}

/// The JSON Schema of scenario files.
pub fn scenario_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).unwrap_or(Value::Null)
}

/// The JSON Schema of library files.
pub fn library_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Library)).unwrap_or(Value::Null)
}
