//! The target profile file format (`*.target.yaml`): where the target is, who calls it,
//! how it behaves (state machines) and how the harness treats it (redirects, load,
//! cleanup of what the suite creates).

use super::model::Dur;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A target profile (`*.target.yaml`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flowgate target profile")]
pub struct ProfileSpec {
    pub name: String,
    pub base_url: String,
    /// For `--spawn` readiness and the system version in reports.
    #[serde(default)]
    pub health_path: Option<String>,
    /// JSONPath in the health response for the system version.
    #[serde(default)]
    pub version_path: Option<String>,
    /// JSONPath in the health response for the system name.
    #[serde(default)]
    pub system_path: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub default_identity: Option<String>,
    #[serde(default)]
    pub identities: BTreeMap<String, Identity>,
    #[serde(default)]
    pub variables: Map<String, Value>,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// How a step treats a `429 Too Many Requests` it did not expect: wait as its
    /// `Retry-After` says and send again, within these bounds.
    #[serde(default)]
    pub throttling: Throttling,
    #[serde(default)]
    pub state_machines: BTreeMap<String, StateMachine>,
    /// Follow 3xx answers (up to 10) instead of checking them (default false: a redirect
    /// is an answer like any other, and a failure shows its `Location`).
    #[serde(default)]
    pub follow_redirects: bool,
    /// Where the target serves its OpenAPI document (e.g. `/openapi.json`): the report
    /// then lists the operations × statuses the run exercised, and `--min-coverage` can
    /// gate on it.
    #[serde(default)]
    pub openapi_path: Option<String>,
    /// `flowgate run` runs the suite's load scenarios without `--load` (default false:
    /// load on a system you do not own is opt-in). `validate` always runs its bounded load.
    #[serde(default)]
    pub allow_load: bool,
    /// Remove what each scenario created once its teardown ran (default true), using
    /// `resources`.
    #[serde(default = "yes")]
    pub cleanup: bool,
    /// The kinds of resource the suite creates on this target, and how to remove one.
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    /// Properties checked over the whole history of a run (every exchange of every
    /// scenario), as checks of category `properties`; absent: none.
    #[serde(default)]
    pub properties: Option<PropertiesSpec>,
    /// What `flowgate explore` may do on this target; absent: it cannot explore it.
    #[serde(default)]
    pub explore: Option<ExploreSpec>,
}

/// The operations a random walk (`flowgate explore`) may call, and who calls them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExploreSpec {
    /// The identities the walk acts as (default: every identity under
    /// `properties.scopes`). It also derives identities from them: each tenant header
    /// removed, malformed or set to another identity's value, each `properties.credentials`
    /// header removed or corrupted.
    #[serde(default)]
    pub identities: Vec<String>,
    pub operations: Vec<OperationSpec>,
    /// The most creates one burst sends at once (default 8; 0: no bursts).
    #[serde(default)]
    pub max_burst: Option<u32>,
}

/// One operation of the walk. In `query` and `body`, an object with one key is a
/// generator: `{$one_of: [a, b]}` one of the values (`null` leaves a query parameter
/// out), `{$text: canary}` a name unique to the request that views show back, in
/// unusual but valid forms (non-ASCII, emoji, long), `{$text: any}` the same without a
/// unique part, `{$int: [min, max]}` a number, the bounds more often than the rest.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    pub name: String,
    /// `METHOD /path`, `{id}` standing for the id of a resource the walk created (or of
    /// one it never created, or another tenant's).
    pub request: String,
    #[serde(default)]
    pub query: Map<String, Value>,
    /// JSON body.
    #[serde(default)]
    pub body: Option<Value>,
    /// JSONPath in a 2xx answer to the id of the resource the operation created.
    #[serde(default)]
    pub creates: Option<String>,
    /// How often it is picked relative to the others (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
}

/// What the property checkers need to know about the target.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertiesSpec {
    /// The state machine (a name under `state_machines`) every observation of a resource
    /// must follow, across every view and scenario.
    #[serde(default)]
    pub state_machine: Option<String>,
    /// Responses that show a resource: `request` as `METHOD /path/{id}` (no query;
    /// `{id}` is the resource's id, other `{…}` match any segment), `items` a JSONPath to
    /// the resources when the view lists several, and JSONPaths from one resource to its
    /// `id`, `status` and `progress`.
    #[serde(default)]
    pub views: Vec<ViewSpec>,
    /// Requests (`METHOD /path/{id}`) after whose 2xx answer a resource's history starts
    /// again (e.g. a retry that moves a terminal `failed` back to `running`).
    #[serde(default)]
    pub restarts: Vec<String>,
    /// The content type every 4xx and 5xx answer carries (e.g. `application/problem+json`).
    #[serde(default)]
    pub error_content_type: Option<String>,
    /// JSONPath of a create request's member that the suite makes unique and views show
    /// too (`$.flow_name`): after a create answered 4xx/5xx, no later view may show a
    /// resource whose `name` is that value (a refused write leaves no trace).
    #[serde(default)]
    pub canary: Option<String>,
    /// identity → scope. Identities of one scope may see each other's resources; a 2xx
    /// answer to one scope that holds the id of a resource another scope created is a
    /// leak. An identity not listed is a scope of its own.
    #[serde(default)]
    pub scopes: BTreeMap<String, String>,
    /// Headers that say who the caller is (e.g. `Authorization`); the identity's other
    /// headers only select within what the credential may see. A request whose headers
    /// differ from its identity's (a step's `headers:`, `flowgate explore`'s derived
    /// identities) belongs to every scope whose identities send the same credential, and
    /// to none when the credential is missing or unknown. Empty: such a request keeps its
    /// identity's scope.
    #[serde(default)]
    pub credentials: Vec<String>,
    /// Counts a scope reads that only its own writes may change (e.g. how many flows its
    /// list holds): between two identical reads by one scope with no write by that scope
    /// in between, the count must not move, whatever other scopes do.
    #[serde(default)]
    pub aggregates: Vec<AggregateSpec>,
    /// The status a view may still show a resource with after its delete was answered
    /// 2xx (absent: a deleted resource is in no view at all).
    #[serde(default)]
    pub deleted_status: Option<String>,
}

/// A count one scope reads, which only that scope's writes may change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// `METHOD /path` (no query).
    pub request: String,
    /// JSONPath whose number of matches is the count (`$.items[*]`), or that yields a
    /// number (`$.total`).
    pub count: String,
    /// Readings whose query has one of these parameters are not compared (a filter by
    /// status changes as the resources move on, not only by writes).
    #[serde(default)]
    pub unless_query: Vec<String>,
}

/// A response that shows one or more resources.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    pub request: String,
    #[serde(default)]
    pub items: Option<String>,
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub progress: Option<String>,
    /// JSONPath to the resource's name (what `canary` names in a create request).
    #[serde(default)]
    pub name: Option<String>,
}

fn yes() -> bool {
    true
}

/// A kind of resource the suite creates, e.g. a flow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// For people: `flow`.
    pub name: String,
    /// The requests that create one, as `METHOD /path` (no query), e.g.
    /// `POST /api/v1/flows`; a 2xx answer to one of them created a resource.
    pub created_by: Vec<String>,
    /// JSONPath in the creating answer's body to the new resource's id.
    pub id: String,
    /// The request that removes one, `{id}` standing for its id, e.g.
    /// `DELETE /api/v1/flows/{id}`; sent with the creating request's headers. A 2xx or 404
    /// answer means it is gone.
    pub delete: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Default 10s.
    #[serde(default)]
    pub request: Option<Dur>,
    /// Default 30s.
    #[serde(default)]
    pub poll: Option<Dur>,
}

/// A request answered 429 that its step does not expect is sent again after the
/// `Retry-After` delay (seconds or an HTTP date; absent: 1 s, doubling), as a client of a
/// rate-limited API must; each answer is recorded. A step that expects 429 sees it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttling {
    /// Most re-sends of one request (default 20; 0: a 429 is an answer like any other).
    /// Fifty copies of a create refused together by a target that takes 5 a second need
    /// about ten each.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Most time one request may wait in all (default 60s); a `Retry-After` beyond what
    /// is left ends the retries, and the 429 is the answer.
    #[serde(default)]
    pub max_wait: Option<Dur>,
    /// Most wall-clock time a whole run may spend with a request waiting out a 429
    /// (default 5m; overlapping waits count once): past it, a 429 is the answer, so a
    /// target that refuses everything fails in minutes, not hours.
    #[serde(default)]
    pub max_total_wait: Option<Dur>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateMachine {
    #[serde(default)]
    pub terminal: Vec<String>,
    /// state → states it may move to directly.
    #[serde(default)]
    pub transitions: BTreeMap<String, Vec<String>>,
    /// Liveness: the longest a poll may see one non-terminal state before the poll fails
    /// (e.g. `initialized: 5s`: a flow that is never picked up fails in 5 s, not at the
    /// poll's timeout). Measured from the poll's first sight of the state, not counting
    /// time in which the poll was stalled (a gap between two looks longer than the
    /// interval + 1 s: the harness starved, or the target that slow to answer).
    #[serde(default)]
    pub max_dwell: BTreeMap<String, Dur>,
}

impl StateMachine {
    /// Whether `to` is reachable from `from` through declared transitions (a poll samples,
    /// so intermediate states may have been missed). Any change out of a terminal state is
    /// illegal.
    pub fn change_is_legal(&self, from: &str, to: &str) -> bool {
        if from == to {
            return true;
        }
        if self.terminal.iter().any(|t| t == from) {
            return false;
        }
        let mut seen = std::collections::HashSet::new();
        let mut queue = std::collections::VecDeque::from([from.to_string()]);
        while let Some(state) = queue.pop_front() {
            if let Some(next) = self.transitions.get(&state) {
                for n in next {
                    if n == to {
                        return true;
                    }
                    if !self.terminal.iter().any(|t| t == n) && seen.insert(n.clone()) {
                        queue.push_back(n.clone());
                    }
                }
            }
        }
        false
    }
}

/// The JSON Schema of target profile files.
pub fn profile_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ProfileSpec)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability() {
        let sm: StateMachine = serde_yaml_ng::from_str(
            "terminal: [completed, failed]\ntransitions:\n  initialized: [running]\n  running: [waiting, completed, failed]\n  waiting: [running]\n",
        )
        .unwrap();
        assert!(sm.change_is_legal("initialized", "completed"));
        assert!(sm.change_is_legal("waiting", "completed"));
        assert!(!sm.change_is_legal("completed", "running"));
        assert!(!sm.change_is_legal("running", "initialized"));
        assert!(!sm.change_is_legal("running", "bogus"));
    }
}
