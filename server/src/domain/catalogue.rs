//! The eight flow types of the Master Flow Orchestrator and their ordered phases
//! (BRIEF §3). This table is the single source of truth: validation of `flow_type`,
//! `GET /api/v1/flow-types`, phase rows of a new flow and the engine all read it.

use serde::Serialize;

/// Retry policy of a phase: attempts, exponential backoff with a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_delay_ms: u64,
    pub multiplier: u32,
    pub max_delay_ms: u64,
}

impl RetryPolicy {
    /// The original system's policy: 3 attempts, 2 s, ×2, 30 s cap.
    pub const ORIGINAL: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        initial_delay_ms: 2_000,
        multiplier: 2,
        max_delay_ms: 30_000,
    };

    /// Delay before attempt `attempt + 1`, after `attempt` (1-based) failed.
    pub fn delay_after(&self, attempt: u32) -> std::time::Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let factor = u64::from(self.multiplier).saturating_pow(exp);
        let ms = self
            .initial_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms);
        std::time::Duration::from_millis(ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PhaseSpec {
    pub name: &'static str,
    /// The phase waits in `waiting_for_input` until a person answers `POST .../input`.
    pub needs_input: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlowTypeSpec {
    pub flow_type: &'static str,
    pub phases: &'static [PhaseSpec],
}

const fn p(name: &'static str) -> PhaseSpec {
    PhaseSpec {
        name,
        needs_input: false,
    }
}

const fn approval(name: &'static str) -> PhaseSpec {
    PhaseSpec {
        name,
        needs_input: true,
    }
}

pub const FLOW_TYPES: &[FlowTypeSpec] = &[
    FlowTypeSpec {
        flow_type: "discovery",
        phases: &[
            p("data_import"),
            p("field_mapping"),
            p("data_cleansing"),
            p("asset_creation"),
            p("asset_inventory"),
            p("dependency_analysis"),
        ],
    },
    FlowTypeSpec {
        flow_type: "assessment",
        phases: &[
            p("readiness_assessment"),
            p("complexity_analysis"),
            p("risk_assessment"),
            p("recommendation_generation"),
        ],
    },
    FlowTypeSpec {
        flow_type: "planning",
        phases: &[
            p("wave_planning"),
            p("resource_planning"),
            p("timeline_optimization"),
        ],
    },
    FlowTypeSpec {
        flow_type: "execution",
        phases: &[
            p("pre_migration_validation"),
            p("migration_execution"),
            approval("post_migration_validation"),
        ],
    },
    FlowTypeSpec {
        flow_type: "modernize",
        phases: &[
            p("modernization_assessment"),
            p("architecture_redesign"),
            p("implementation_planning"),
        ],
    },
    FlowTypeSpec {
        flow_type: "finops",
        phases: &[
            p("cost_analysis"),
            p("optimization_identification"),
            p("budget_planning"),
        ],
    },
    FlowTypeSpec {
        flow_type: "observability",
        phases: &[
            p("monitoring_setup"),
            p("logging_configuration"),
            p("alerting_setup"),
        ],
    },
    FlowTypeSpec {
        flow_type: "decommission",
        phases: &[
            approval("decommission_planning"),
            p("data_migration"),
            p("system_shutdown"),
        ],
    },
];

/// Looks a flow type up by name.
pub fn flow_type(name: &str) -> Option<&'static FlowTypeSpec> {
    FLOW_TYPES.iter().find(|t| t.flow_type == name)
}

/// Names of all flow types, in catalogue order (for error messages).
pub fn flow_type_names() -> Vec<&'static str> {
    FLOW_TYPES.iter().map(|t| t.flow_type).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_types_with_the_seed_phase_counts() {
        let counts: Vec<_> = FLOW_TYPES.iter().map(|t| t.phases.len()).collect();
        assert_eq!(counts, [6, 4, 3, 3, 3, 3, 3, 3]);
    }

    #[test]
    fn original_backoff_is_2_4_8_capped_at_30s() {
        let r = RetryPolicy::ORIGINAL;
        assert_eq!(r.delay_after(1).as_millis(), 2_000);
        assert_eq!(r.delay_after(2).as_millis(), 4_000);
        assert_eq!(r.delay_after(3).as_millis(), 8_000);
        assert_eq!(r.delay_after(10).as_millis(), 30_000);
    }
}
