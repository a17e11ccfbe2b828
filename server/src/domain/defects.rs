//! Injected defects: deliberate, named misbehaviours that reproduce real failure classes,
//! so that the conformance suite can prove it catches each one. The set is fixed at
//! start-up, reported by `/health`, and empty unless a defect is named.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One injectable defect. HTTP-side defects are implemented by the API layer, the others
/// by the execution engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// Engine: flows are created but never leave `initialized`.
    StuckFlows,
    /// Engine: a phase is marked completed without its handler running.
    SkippedPhases,
    /// Engine: after the first phase the flow's status is no longer updated.
    StatusStopsUpdating,
    /// API: the tenant is taken from `X-Client-Account-ID` instead of the API key.
    TenantLeak,
    /// API: every error is HTTP 200 `{"success": false}` with no description.
    OpaqueErrors,
    /// API: the flow list and the compatibility active list return every tenant's flows.
    ListIgnoresTenant,
    /// API: validation errors answer 500 with a stack-trace-like body.
    ServerErrorOnBadInput,
    /// API: problem+json bodies lack the stable `code` member.
    ProblemWithoutCode,
    /// API: every API response is delayed by 1500 ms.
    SlowResponses,
    /// API: `Idempotency-Key` is ignored; every create makes a new flow.
    DuplicateCreates,
    /// API: pause/resume/cancel are accepted from any status (a cancelled flow resumes).
    IllegalTransitions,
    /// API: the flow list shows a completed flow as still `running` (a stale read model):
    /// two views of one flow disagree, which no single request shows.
    StaleListStatus,
    /// API: a create refused only for an unknown member still stores the flow (validation
    /// after the write): the client is told no, and a flow runs anyway.
    RejectedCreateStored,
    /// API: the list applies `limit` to every tenant's flows and only then keeps the
    /// caller's: a tenant's page shrinks when another tenant creates flows. No foreign id
    /// ever shows; only a count that moves without the tenant writing does.
    PagingIgnoresTenant,
    /// API: a flow completed more than 1.5 s ago reads as `running` again in the detail
    /// view (a late write of a duplicate worker): a terminal state that does not stay.
    TerminalReopens,
    /// API: a create whose `flow_name` has a multi-byte character across its 24th byte
    /// answers 500 (a byte-indexed truncation); ASCII names never do.
    NonAsciiNameError,
    /// API: a DELETE of a `paused` flow answers 204 and deletes nothing (a lost update:
    /// resuming restores it): the delete half-happened.
    DeleteLostWhilePaused,
}

impl Defect {
    /// Every defect, in a stable order.
    pub const ALL: [Defect; 17] = [
        Defect::StuckFlows,
        Defect::SkippedPhases,
        Defect::StatusStopsUpdating,
        Defect::TenantLeak,
        Defect::OpaqueErrors,
        Defect::ListIgnoresTenant,
        Defect::ServerErrorOnBadInput,
        Defect::ProblemWithoutCode,
        Defect::SlowResponses,
        Defect::DuplicateCreates,
        Defect::IllegalTransitions,
        Defect::StaleListStatus,
        Defect::RejectedCreateStored,
        Defect::PagingIgnoresTenant,
        Defect::TerminalReopens,
        Defect::NonAsciiNameError,
        Defect::DeleteLostWhilePaused,
    ];

    /// The name used on the command line and in `/health`.
    pub fn name(self) -> &'static str {
        match self {
            Defect::StuckFlows => "stuck-flows",
            Defect::SkippedPhases => "skipped-phases",
            Defect::StatusStopsUpdating => "status-stops-updating",
            Defect::TenantLeak => "tenant-leak",
            Defect::OpaqueErrors => "opaque-errors",
            Defect::ListIgnoresTenant => "list-ignores-tenant",
            Defect::ServerErrorOnBadInput => "server-error-on-bad-input",
            Defect::ProblemWithoutCode => "problem-without-code",
            Defect::SlowResponses => "slow-responses",
            Defect::DuplicateCreates => "duplicate-creates",
            Defect::IllegalTransitions => "illegal-transitions",
            Defect::StaleListStatus => "stale-list-status",
            Defect::RejectedCreateStored => "rejected-create-stored",
            Defect::PagingIgnoresTenant => "paging-ignores-tenant",
            Defect::TerminalReopens => "terminal-reopens",
            Defect::NonAsciiNameError => "non-ascii-name-error",
            Defect::DeleteLostWhilePaused => "delete-lost-while-paused",
        }
    }

    /// One line saying what goes wrong, for `--help`-style listings and reports.
    pub fn description(self) -> &'static str {
        match self {
            Defect::StuckFlows => "flows are created but never leave `initialized`",
            Defect::SkippedPhases => "a phase is marked completed without running its handler",
            Defect::StatusStopsUpdating => "the flow status stops updating after the first phase",
            Defect::TenantLeak => {
                "the tenant is taken from the X-Client-Account-ID header instead of the API key"
            }
            Defect::OpaqueErrors => {
                "errors come back as HTTP 200 {\"success\": false} with no description"
            }
            Defect::ListIgnoresTenant => "flow lists return every tenant's flows",
            Defect::ServerErrorOnBadInput => "bad input answers 500 with a stack trace",
            Defect::ProblemWithoutCode => "problem+json error bodies lack the `code` member",
            Defect::SlowResponses => "every API response is delayed by 1500 ms",
            Defect::DuplicateCreates => "Idempotency-Key is ignored: every create makes a new flow",
            Defect::IllegalTransitions => {
                "pause/resume/cancel are accepted from any status (a cancelled flow resumes)"
            }
            Defect::StaleListStatus => {
                "the flow list shows completed flows as still `running` (a stale read model)"
            }
            Defect::RejectedCreateStored => {
                "a create refused for an unknown member still stores the flow"
            }
            Defect::PagingIgnoresTenant => {
                "the list limits every tenant's flows before keeping the caller's: pages shrink when others write"
            }
            Defect::TerminalReopens => {
                "a flow completed over 1.5 s ago reads as `running` again"
            }
            Defect::NonAsciiNameError => {
                "a flow name with a multi-byte character across byte 24 answers 500"
            }
            Defect::DeleteLostWhilePaused => {
                "DELETE of a paused flow answers 204 and deletes nothing"
            }
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a defect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect `{name}`; known defects: {known}")]
pub struct UnknownDefect {
    pub name: String,
    pub known: String,
}

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefect {
                name: s.to_string(),
                known: Defect::ALL
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The set of active defects. `Defects::none()` (the default) activates nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    /// No defect: the correct server.
    pub fn none() -> Self {
        Defects(BTreeSet::new())
    }

    /// Whether `defect` was named at start-up.
    pub fn is_on(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    /// Active defects in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names of the active defects (for `/health`).
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(Defect::name).collect()
    }

    /// Parses defect names, e.g. from repeated `--defect` options.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, UnknownDefect> {
        names
            .iter()
            .map(|n| n.as_ref().trim().parse::<Defect>())
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Defects)
    }
}

impl FromIterator<Defect> for Defects {
    fn from_iter<I: IntoIterator<Item = Defect>>(iter: I) -> Self {
        Defects(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_default_activate_nothing() {
        for defects in [
            Defects::none(),
            Defects::default(),
            crate::ServerConfig::default().defects,
        ] {
            assert!(defects.is_empty());
            for d in Defect::ALL {
                assert!(!defects.is_on(d), "{d} is on without being named");
            }
            assert!(defects.names().is_empty());
        }
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(d));
            assert!(seen.insert(d.name()));
            assert!(!d.description().is_empty());
        }
    }

    #[test]
    fn parse_names_some_and_rejects_unknown() {
        let set = Defects::parse(&["tenant-leak", "opaque-errors"]).unwrap();
        assert!(set.is_on(Defect::TenantLeak));
        assert!(set.is_on(Defect::OpaqueErrors));
        assert!(!set.is_on(Defect::StuckFlows));
        let err = Defects::parse(&["tenant-leek"]).unwrap_err();
        assert!(err.to_string().contains("tenant-leak"), "{err}");
    }
}
