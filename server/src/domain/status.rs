//! The flow state machine: the one place that names a flow's statuses and decides which
//! lifecycle action is legal from which status. The store, the engine and both APIs use
//! it; none of them spells a status as a string of its own (SQL texts aside, which use
//! [`FlowStatus::as_str`] values).

use std::fmt;

/// Where a flow is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowStatus {
    Initialized,
    Running,
    WaitingForInput,
    Paused,
    Completed,
    Failed,
    Cancelled,
    /// Soft-deleted: invisible to every read.
    Deleted,
}

impl FlowStatus {
    /// Every status, in the order of the contract's table.
    pub const ALL: [FlowStatus; 8] = [
        FlowStatus::Initialized,
        FlowStatus::Running,
        FlowStatus::WaitingForInput,
        FlowStatus::Paused,
        FlowStatus::Completed,
        FlowStatus::Failed,
        FlowStatus::Cancelled,
        FlowStatus::Deleted,
    ];

    /// The statuses of a flow that still has work ahead of it.
    pub const ACTIVE: [FlowStatus; 4] = [
        FlowStatus::Initialized,
        FlowStatus::Running,
        FlowStatus::WaitingForInput,
        FlowStatus::Paused,
    ];

    /// The statuses a worker may claim a flow in.
    pub const CLAIMABLE: [FlowStatus; 2] = [FlowStatus::Initialized, FlowStatus::Running];

    pub const fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Initialized => "initialized",
            FlowStatus::Running => "running",
            FlowStatus::WaitingForInput => "waiting_for_input",
            FlowStatus::Paused => "paused",
            FlowStatus::Completed => "completed",
            FlowStatus::Failed => "failed",
            FlowStatus::Cancelled => "cancelled",
            FlowStatus::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<FlowStatus> {
        FlowStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A client may see and filter on every status but `deleted`.
    pub fn is_visible(self) -> bool {
        self != FlowStatus::Deleted
    }

    /// The names of the visible statuses, in the contract's order.
    pub fn visible_names() -> Vec<&'static str> {
        FlowStatus::ALL
            .into_iter()
            .filter(|s| s.is_visible())
            .map(FlowStatus::as_str)
            .collect()
    }

    /// No worker will touch the flow again (`failed` can still be retried by a person).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            FlowStatus::Completed
                | FlowStatus::Failed
                | FlowStatus::Cancelled
                | FlowStatus::Deleted
        )
    }

    /// `'a', 'b'` for an SQL `IN (...)` list of constant statuses.
    pub fn sql_list(statuses: &[FlowStatus]) -> String {
        statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for FlowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change a client can ask for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Cancel,
    Input {
        approved: bool,
        comment: Option<String>,
    },
    Retry,
    Delete,
}

impl Action {
    /// How an error message names the action ("cannot pause a completed flow").
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Input { .. } => "give input to",
            other => other.name(),
        }
    }

    /// The action's name in events (`detail.action`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Input { .. } => "input",
            Action::Retry => "retry",
            Action::Delete => "delete",
        }
    }

    /// The transition table: is this action legal from `from`?
    pub fn allowed_from(&self, from: FlowStatus) -> bool {
        use FlowStatus::*;
        match self {
            Action::Pause => matches!(from, Initialized | Running | WaitingForInput),
            Action::Resume => from == Paused,
            Action::Cancel => FlowStatus::ACTIVE.contains(&from),
            Action::Input { .. } => from == WaitingForInput,
            Action::Retry => from == Failed,
            Action::Delete => from != Deleted,
        }
    }

    /// The status the action leads to. `paused_from` is where a paused flow was when it
    /// was paused (resume goes back there; a flow paused before it ever ran resumes as
    /// running, the engine then claims it).
    pub fn target(&self, paused_from: Option<FlowStatus>) -> FlowStatus {
        match self {
            Action::Pause => FlowStatus::Paused,
            Action::Resume => match paused_from {
                Some(s @ (FlowStatus::Initialized | FlowStatus::WaitingForInput)) => s,
                _ => FlowStatus::Running,
            },
            Action::Cancel => FlowStatus::Cancelled,
            Action::Delete => FlowStatus::Deleted,
            Action::Retry => FlowStatus::Running,
            Action::Input { approved, .. } => {
                if *approved {
                    FlowStatus::Running
                } else {
                    FlowStatus::Failed
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in FlowStatus::ALL {
            assert_eq!(FlowStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(FlowStatus::parse("processing"), None);
    }

    #[test]
    fn terminal_states_allow_no_lifecycle_action_but_delete_and_retry() {
        for s in FlowStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for a in [Action::Pause, Action::Resume, Action::Cancel] {
                assert!(!a.allowed_from(s), "{a:?} from {s}");
            }
        }
        assert!(Action::Retry.allowed_from(FlowStatus::Failed));
        assert!(!Action::Retry.allowed_from(FlowStatus::Completed));
        assert!(!Action::Delete.allowed_from(FlowStatus::Deleted));
    }

    #[test]
    fn resume_returns_where_the_flow_was() {
        let r = Action::Resume;
        assert_eq!(
            r.target(Some(FlowStatus::WaitingForInput)),
            FlowStatus::WaitingForInput
        );
        assert_eq!(
            r.target(Some(FlowStatus::Initialized)),
            FlowStatus::Initialized
        );
        assert_eq!(r.target(Some(FlowStatus::Running)), FlowStatus::Running);
        assert_eq!(r.target(None), FlowStatus::Running);
    }
}
