//! The second implementation's state: every flow in memory behind one lock, and an engine
//! that advances due flows on a 10 ms tick. Written from `server/API.md` alone; where the
//! contract leaves a choice it chooses differently from the reference (ids are UUID v4,
//! phase statuses while waiting, extra event kinds, timings, retry delays).

use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The eight flow types (BRIEF §3): phase name and whether it waits for a person.
pub const CATALOGUE: &[(&str, &[(&str, bool)])] = &[
    (
        "discovery",
        &[
            ("data_import", false),
            ("field_mapping", false),
            ("data_cleansing", false),
            ("asset_creation", false),
            ("asset_inventory", false),
            ("dependency_analysis", false),
        ],
    ),
    (
        "assessment",
        &[
            ("readiness_assessment", false),
            ("complexity_analysis", false),
            ("risk_assessment", false),
            ("recommendation_generation", false),
        ],
    ),
    (
        "planning",
        &[
            ("wave_planning", false),
            ("resource_planning", false),
            ("timeline_optimization", false),
        ],
    ),
    (
        "execution",
        &[
            ("pre_migration_validation", false),
            ("migration_execution", false),
            ("post_migration_validation", true),
        ],
    ),
    (
        "modernize",
        &[
            ("modernization_assessment", false),
            ("architecture_redesign", false),
            ("implementation_planning", false),
        ],
    ),
    (
        "finops",
        &[
            ("cost_analysis", false),
            ("optimization_identification", false),
            ("budget_planning", false),
        ],
    ),
    (
        "observability",
        &[
            ("monitoring_setup", false),
            ("logging_configuration", false),
            ("alerting_setup", false),
        ],
    ),
    (
        "decommission",
        &[
            ("decommission_planning", true),
            ("data_migration", false),
            ("system_shutdown", false),
        ],
    ),
];

pub const MAX_ATTEMPTS: u32 = 3;
pub const RETRY_INITIAL_MS: u64 = 120;
pub const RETRY_MAX_MS: u64 = 1_000;
/// A phase's work without simulated delay.
const PHASE_WORK: Duration = Duration::from_millis(35);

pub fn phases_of(flow_type: &str) -> Option<&'static [(&'static str, bool)]> {
    CATALOGUE
        .iter()
        .find(|(t, _)| *t == flow_type)
        .map(|(_, p)| *p)
}

pub const STATUSES: &[&str] = &[
    "initialized",
    "running",
    "waiting_for_input",
    "paused",
    "completed",
    "failed",
    "cancelled",
];

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Clone)]
pub struct Tenant {
    pub account: Uuid,
    pub engagements: Vec<Uuid>,
}

pub struct Phase {
    pub name: &'static str,
    pub needs_input: bool,
    /// pending | running | awaiting_approval | completed | failed
    pub status: &'static str,
    pub attempts: u32,
    /// Failed attempts, ever.
    pub failures: u32,
    /// Attempts made before the last `POST /retry`.
    pub attempt_base: u32,
    pub started_at: Option<String>,
    pub started: Option<Instant>,
    pub completed_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub output: Value,
    pub error: Value,
}

pub struct Flow {
    pub id: Uuid,
    /// Creation order, for newest-first lists and cursors.
    pub seq: u64,
    pub account: Uuid,
    pub engagement: Uuid,
    pub flow_type: &'static str,
    pub name: Option<String>,
    pub configuration: Value,
    pub metadata: Value,
    pub initial_data: Value,
    pub status: &'static str,
    pub paused_from: Option<&'static str>,
    pub deleted: bool,
    pub phases: Vec<Phase>,
    pub current: usize,
    pub error: Value,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    /// When the engine looks at the flow next.
    pub due: Instant,
    pub events: Vec<Value>,
    pub revision: u64,
}

/// What a create stores.
pub struct NewFlow {
    pub seq: u64,
    pub account: Uuid,
    pub engagement: Uuid,
    pub flow_type: &'static str,
    pub name: Option<String>,
    pub configuration: Value,
    pub metadata: Value,
    pub initial_data: Value,
}

impl Flow {
    pub fn new(n: NewFlow) -> Flow {
        let NewFlow {
            seq,
            account,
            engagement,
            flow_type,
            name,
            configuration,
            metadata,
            initial_data,
        } = n;
        let phases = phases_of(flow_type)
            .unwrap_or(&[])
            .iter()
            .map(|(name, needs_input)| Phase {
                name,
                needs_input: *needs_input,
                status: "pending",
                attempts: 0,
                attempt_base: 0,
                failures: 0,
                started_at: None,
                started: None,
                completed_at: None,
                duration_ms: None,
                output: Value::Null,
                error: Value::Null,
            })
            .collect();
        let at = now();
        let mut flow = Flow {
            id: Uuid::new_v4(),
            seq,
            account,
            engagement,
            flow_type,
            name,
            configuration,
            metadata,
            initial_data,
            status: "initialized",
            paused_from: None,
            deleted: false,
            phases,
            current: 0,
            error: Value::Null,
            created_at: at.clone(),
            updated_at: at,
            completed_at: None,
            // Picked up after a short queueing delay, as a real queue would.
            due: Instant::now() + Duration::from_millis(20),
            events: Vec::new(),
            revision: 1,
        };
        flow.log("flow_accepted", json!({"queue": "default"}));
        flow
    }

    pub fn is_terminal(&self) -> bool {
        self.deleted || matches!(self.status, "completed" | "failed" | "cancelled")
    }

    pub fn completed_phases(&self) -> usize {
        self.phases
            .iter()
            .filter(|p| p.status == "completed")
            .count()
    }

    pub fn progress(&self) -> f64 {
        if self.phases.is_empty() {
            return 0.0;
        }
        let raw = self.completed_phases() as f64 * 100.0 / self.phases.len() as f64;
        (raw * 10.0).round() / 10.0
    }

    pub fn current_phase(&self) -> Value {
        if self.status == "completed" {
            Value::Null
        } else {
            self.phases
                .get(self.current)
                .map_or(Value::Null, |p| json!(p.name))
        }
    }

    fn touch(&mut self) {
        self.updated_at = now();
        self.revision += 1;
    }

    /// Appends an event of `kind` with members `extra` (an object).
    pub fn log(&mut self, kind: &str, extra: Value) {
        let mut e = Map::new();
        e.insert("seq".into(), json!((self.events.len() as u64 + 1) * 10));
        e.insert("at".into(), json!(now()));
        e.insert("kind".into(), json!(kind));
        if let Value::Object(extra) = extra {
            e.extend(extra);
        }
        self.events.push(Value::Object(e));
    }

    /// Changes the status, logging `status_changed` with `detail`.
    pub fn set_status(&mut self, to: &'static str, detail: Value) {
        let from = self.status;
        self.status = to;
        if to == "completed" {
            self.completed_at = Some(now());
        }
        self.touch();
        self.log(
            "status_changed",
            json!({"from_status": from, "to_status": to, "phase": null, "detail": detail}),
        );
    }

    fn simulate(&self, phase: &str) -> Value {
        self.configuration
            .get("simulate")
            .and_then(|s| s.get(phase))
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn start_phase(&mut self, at: Instant) {
        let delay = self.simulate(self.phases[self.current].name)["delay_ms"]
            .as_u64()
            .unwrap_or(0);
        let p = &mut self.phases[self.current];
        p.status = "running";
        p.attempts += 1;
        p.started_at = Some(now());
        p.started = Some(at);
        let (name, attempt) = (p.name, p.attempts);
        self.due = at + PHASE_WORK + Duration::from_millis(delay);
        self.touch();
        self.log(
            "phase_started",
            json!({"phase": name, "detail": {"attempt": attempt}}),
        );
    }

    fn finish_phase(&mut self, output: Value) {
        let p = &mut self.phases[self.current];
        p.status = "completed";
        p.completed_at = Some(now());
        p.duration_ms = p.started.map(|s| s.elapsed().as_millis() as u64);
        p.output = output;
        p.error = Value::Null;
        let name = p.name;
        self.touch();
        self.log("phase_completed", json!({"phase": name}));
        self.current += 1;
        if self.current == self.phases.len() {
            self.current -= 1;
            self.set_status("completed", json!({}));
        } else {
            self.log(
                "checkpoint",
                json!({"next_phase": self.phases[self.current].name}),
            );
        }
    }

    fn fail(&mut self, code: &str, message: String) {
        let p = &mut self.phases[self.current];
        p.status = "failed";
        p.error = json!({"code": code, "message": message});
        let name = p.name;
        self.error = json!({"phase": name, "code": code, "message": message});
        self.log(
            "phase_failed",
            json!({"phase": name, "detail": {"code": code, "final": true}}),
        );
        self.set_status("failed", json!({"reason": code}));
    }

    /// One step of the engine, when the flow is due.
    pub fn advance(&mut self, at: Instant) {
        if self.deleted || at < self.due {
            return;
        }
        match self.status {
            "initialized" => {
                self.set_status("running", json!({"by": "scheduler"}));
                self.start_phase(at);
            }
            "running" => {
                let phase = &self.phases[self.current];
                match phase.status {
                    "pending" => self.start_phase(at),
                    "running" => self.complete_attempt(at),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn complete_attempt(&mut self, at: Instant) {
        let sim = self.simulate(self.phases[self.current].name);
        let total = self.phases[self.current].attempts;
        // Exhaustion counts the attempts since the last retry; faults count them all.
        let attempt = total - self.phases[self.current].attempt_base;
        // A permanent fault holds until the phase has failed once (API.md#simulated-faults).
        if sim["fail_permanent"] == json!(true) && self.phases[self.current].failures == 0 {
            self.phases[self.current].failures += 1;
            self.fail(
                "phase_error",
                format!("the phase gave up (attempt {attempt})"),
            );
            return;
        }
        let transient = sim["fail_transient"].as_u64().unwrap_or(0);
        if u64::from(total) <= transient {
            let name = self.phases[self.current].name;
            self.log(
                "phase_failed",
                json!({"phase": name, "detail": {"code": "transient", "final": attempt >= MAX_ATTEMPTS}}),
            );
            if attempt >= MAX_ATTEMPTS {
                self.phases[self.current].status = "failed";
                self.phases[self.current].error =
                    json!({"code": "transient", "message": "flaky dependency"});
                self.error = json!({"phase": name, "code": "attempts_exhausted", "message": format!("{attempt} attempts, all failed")});
                self.set_status("failed", json!({"reason": "attempts_exhausted"}));
            } else {
                let wait = (RETRY_INITIAL_MS << (attempt - 1)).min(RETRY_MAX_MS);
                self.phases[self.current].status = "pending";
                self.due = at + Duration::from_millis(wait);
                self.touch();
                self.log(
                    "retry_planned",
                    json!({"phase": name, "detail": {"in_ms": wait}}),
                );
            }
            return;
        }
        let (name, needs_input) = (
            self.phases[self.current].name,
            self.phases[self.current].needs_input,
        );
        if needs_input {
            self.phases[self.current].status = "awaiting_approval";
            self.set_status("waiting_for_input", json!({"phase": name}));
            return;
        }
        let records = self.initial_data["raw_data"].as_array().map_or(0, Vec::len);
        let output = json!({"phase": name, "records": records, "engine": "second"});
        self.finish_phase(output);
    }

    /// `POST /input`: approve finishes the waiting phase, reject fails the flow.
    pub fn answer(&mut self, approved: bool, comment: Option<String>) {
        let detail = json!({"action": "input", "approved": approved, "comment": comment});
        if approved {
            self.set_status("running", detail);
            let name = self.phases[self.current].name;
            self.finish_phase(json!({"phase": name, "approved": true, "comment": comment}));
            self.due = Instant::now();
        } else {
            let p = &mut self.phases[self.current];
            p.status = "failed";
            p.error =
                json!({"code": "input_rejected", "message": comment.clone().unwrap_or_default()});
            let name = p.name;
            self.error = json!({"phase": name, "code": "input_rejected", "message": comment.unwrap_or_else(|| "rejected".into())});
            self.log("phase_failed", json!({"phase": name}));
            self.set_status("failed", detail);
        }
    }

    /// `POST /retry`: the failed phase runs again; earlier phases keep their results.
    pub fn retry(&mut self) {
        let p = &mut self.phases[self.current];
        p.status = "pending";
        // A new budget of attempts; the count keeps the history.
        p.attempt_base = p.attempts;
        p.error = Value::Null;
        self.error = Value::Null;
        self.set_status("running", json!({"action": "retry"}));
        self.due = Instant::now();
    }

    pub fn to_json(&self) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                json!({
                    "name": p.name, "status": p.status, "needs_input": p.needs_input,
                    "attempts": p.attempts, "started_at": p.started_at,
                    "completed_at": p.completed_at, "duration_ms": p.duration_ms,
                    "output": p.output, "error": p.error,
                })
            })
            .collect();
        json!({
            "kind": "flow",
            "flow_id": self.id,
            "revision": self.revision,
            "flow_type": self.flow_type,
            "flow_name": self.name,
            "status": if self.deleted { "deleted" } else { self.status },
            "current_phase": self.current_phase(),
            "progress_percentage": self.progress(),
            "client_account_id": self.account,
            "engagement_id": self.engagement,
            "configuration": self.configuration,
            "metadata": self.metadata,
            "phases": phases,
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
        })
    }

    pub fn summary(&self) -> Value {
        json!({
            "flow_id": self.id,
            "flow_type": self.flow_type,
            "flow_name": self.name,
            "status": self.status,
            "current_phase": self.current_phase(),
            "phases_completed": self.completed_phases(),
            "phases_total": self.phases.len(),
            "progress_percentage": self.progress(),
            "client_account_id": self.account,
            "engagement_id": self.engagement,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
            "links": {"self": format!("/api/v1/flows/{}", self.id)},
        })
    }
}

/// Everything the server knows.
#[derive(Default)]
pub struct Store {
    pub keys: HashMap<String, Tenant>,
    pub flows: HashMap<Uuid, Flow>,
    pub next_seq: u64,
    /// (account, key) → (request hash, flow id)
    pub idempotency: HashMap<(Uuid, String), (String, Uuid)>,
}

impl Store {
    pub fn tick(&mut self) {
        let at = Instant::now();
        for flow in self.flows.values_mut() {
            if !flow.is_terminal() {
                flow.advance(at);
            }
        }
    }

    pub fn visible(&self, account: Uuid, engagement: Uuid, id: Uuid) -> Option<&Flow> {
        self.flows
            .get(&id)
            .filter(|f| f.account == account && f.engagement == engagement && !f.deleted)
    }

    pub fn visible_mut(&mut self, account: Uuid, engagement: Uuid, id: Uuid) -> Option<&mut Flow> {
        self.flows
            .get_mut(&id)
            .filter(|f| f.account == account && f.engagement == engagement && !f.deleted)
    }
}
