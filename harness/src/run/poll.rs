//! Polls: the tracker of states, monotonic values and declared orders that both the
//! functional runner and the load engine feed.

use super::*;

/// The state of a poll's tracked values, for illegal-transition, monotonic and order
/// checks. Exposed so the load runner can apply the same semantics.
#[derive(Debug, Clone)]
pub struct PollTracker {
    /// Distinct tracked states, in the order seen.
    pub states: Vec<String>,
    last_change: Option<Instant>,
    monotonic_last: BTreeMap<String, f64>,
    order_index: Option<usize>,
    /// The poll's interval: a longer gap between two observations is a stall.
    interval: Duration,
    last_observed: Option<Instant>,
    /// Stalled time (gaps beyond the interval and the grace) since the last change.
    stalled: Duration,
    grace: Duration,
}

impl Default for PollTracker {
    fn default() -> PollTracker {
        PollTracker {
            states: Vec::new(),
            last_change: None,
            monotonic_last: BTreeMap::new(),
            order_index: None,
            interval: Duration::ZERO,
            last_observed: None,
            stalled: Duration::ZERO,
            grace: STALL_GRACE,
        }
    }
}

/// How much longer than its interval a gap between two observations may be before the
/// excess counts as a stall (the harness starved of CPU, or the target taking this long
/// to answer a read): `max_dwell` judges the target's liveness, so time in which the
/// poll could not look is not counted against it.
pub const STALL_GRACE: Duration = Duration::from_secs(1);

impl PollTracker {
    /// A tracker for a poll that looks every `interval`.
    pub fn with_interval(interval: Duration) -> PollTracker {
        PollTracker {
            interval,
            ..PollTracker::default()
        }
    }

    /// Feeds one response body; returns a mismatch when a rule is broken.
    pub fn observe(
        &mut self,
        poll: &Poll,
        profile: &Profile,
        doc: Option<&Value>,
    ) -> Result<(), Mismatch> {
        let Some(doc) = doc else { return Ok(()) };
        let now = Instant::now();
        if let Some(prev) = self.last_observed.replace(now) {
            let gap = now.duration_since(prev);
            self.stalled += gap.saturating_sub(self.interval + self.grace);
        }
        if let Some(track) = &poll.track {
            if let Ok(Some(v)) = query_json(track, doc) {
                let state = value_text(&v);
                let prev = self.states.last().cloned();
                if prev.as_deref() != Some(state.as_str()) {
                    if let (Some(prev), Some(name)) = (&prev, &poll.state_machine) {
                        if let Some(sm) = profile.spec.state_machines.get(name) {
                            if !sm.change_is_legal(prev, &state) {
                                let why = if sm.terminal.contains(prev) {
                                    format!("terminal state `{prev}` changed to `{state}`")
                                } else {
                                    format!("illegal transition `{prev}` → `{state}` (not reachable in state machine `{name}`)")
                                };
                                self.states.push(state.clone());
                                return Err(Mismatch {
                                    message: why,
                                    expected: format!("a state reachable from `{prev}`"),
                                    actual: format!("`{state}`"),
                                });
                            }
                        }
                    }
                    self.states.push(state);
                    self.last_change = Some(now);
                    self.stalled = Duration::ZERO;
                }
                self.check_dwell(poll, profile)?;
            }
        }
        for path in &poll.monotonic {
            if let Ok(Some(v)) = query_json(path, doc) {
                if let Some(x) = v.as_f64() {
                    if let Some(prev) = self.monotonic_last.get(path) {
                        if x < *prev {
                            return Err(Mismatch {
                                message: format!("`{path}` went down from {prev} to {x}"),
                                expected: format!(">= {prev}"),
                                actual: x.to_string(),
                            });
                        }
                    }
                    self.monotonic_last.insert(path.clone(), x);
                }
            }
        }
        if let Some(order) = &poll.order {
            if let Ok(Some(v)) = query_json(&order.path, doc) {
                if !v.is_null() {
                    let text = value_text(&v);
                    match order.values.iter().position(|x| *x == text) {
                        None => {
                            return Err(Mismatch {
                                message: format!(
                                    "`{}` is `{text}`, which is not in the declared order",
                                    order.path
                                ),
                                expected: format!("one of {:?}", order.values),
                                actual: text,
                            })
                        }
                        Some(i) => {
                            if let Some(prev) = self.order_index {
                                if i < prev {
                                    return Err(Mismatch {
                                        message: format!(
                                            "`{}` went back from `{}` to `{text}`",
                                            order.path, order.values[prev]
                                        ),
                                        expected: format!("`{}` or later", order.values[prev]),
                                        actual: text,
                                    });
                                }
                            }
                            self.order_index = Some(i);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Liveness: the current state has not lasted longer than the profile's `max_dwell`.
    fn check_dwell(&self, poll: &Poll, profile: &Profile) -> Result<(), Mismatch> {
        let (Some(state), Some(age), Some(name)) = (
            self.states.last(),
            self.current_state_age(),
            poll.state_machine.as_ref(),
        ) else {
            return Ok(());
        };
        let bound = profile
            .spec
            .state_machines
            .get(name)
            .and_then(|sm| sm.max_dwell.get(state));
        let stalled = if self.stalled.is_zero() {
            String::new()
        } else {
            format!(
                " (not counting {:.1} s in which the poll was stalled)",
                self.stalled.as_secs_f64()
            )
        };
        match bound {
            Some(max) if age.saturating_sub(self.stalled) > max.0 => Err(Mismatch {
                message: format!(
                    "state `{state}` lasted {:.1} s{stalled}, longer than the {} the profile allows (state_machines.{name}.max_dwell)",
                    age.as_secs_f64(),
                    humantime::format_duration(max.0)
                ),
                expected: format!("`{state}` for at most {}", humantime::format_duration(max.0)),
                actual: format!("`{state}` for {:.1} s", age.as_secs_f64()),
            }),
            _ => Ok(()),
        }
    }

    /// How long the current tracked state has lasted.
    pub fn current_state_age(&self) -> Option<Duration> {
        self.last_change.map(|t| t.elapsed())
    }
}

/// What the driver of a poll does next.
#[derive(Debug, Clone, PartialEq)]
pub enum PollStep {
    /// Wait this long, then send the request again.
    Again(Duration),
    /// `until` held (and the captures were taken).
    Reached,
    /// The poll failed: a tracked rule broke, `fail_fast` matched, or the captures could
    /// not be taken.
    Failed(Mismatch),
    /// `until` did not hold before the timeout.
    TimedOut(Mismatch),
}

/// One poll, without I/O: the driver sends the request and feeds each answer in; the
/// machine checks the tracked rules, `until`, `fail_fast` and the timeout, and says what
/// comes next. The functional runner and the load engine both drive it, so a poll means
/// the same thing in both.
///
/// A transport error is for the driver to judge: the runner stops on one (it is an
/// infrastructure error, reported as such), the load engine counts it as a failed request
/// and feeds [`PollMachine::transport_error`] so the poll goes on until its timeout.
#[derive(Debug)]
pub struct PollMachine<'a> {
    poll: &'a Poll,
    profile: &'a Profile,
    captures: Option<&'a BTreeMap<String, CaptureSpec>>,
    interval: Duration,
    timeout: Duration,
    started: Instant,
    attempts: usize,
    tracker: PollTracker,
    last_seen: Option<String>,
}

impl<'a> PollMachine<'a> {
    /// Starts a poll now. `interval` and `timeout` are the resolved ones (the step's, else
    /// the profile's).
    pub fn new(
        poll: &'a Poll,
        profile: &'a Profile,
        captures: Option<&'a BTreeMap<String, CaptureSpec>>,
        interval: Duration,
        timeout: Duration,
    ) -> PollMachine<'a> {
        PollMachine {
            poll,
            profile,
            captures,
            interval,
            timeout,
            started: Instant::now(),
            attempts: 0,
            tracker: PollTracker::with_interval(interval),
            last_seen: None,
        }
    }

    /// Requests sent so far.
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The distinct tracked states seen, in order.
    pub fn states(&self) -> &[String] {
        &self.tracker.states
    }

    pub fn into_states(self) -> Vec<String> {
        self.tracker.states
    }

    /// Feeds one answer.
    pub fn response(&mut self, resp: &ResponseData, vars: &mut Vars) -> PollStep {
        self.attempts += 1;
        let attempts = self.attempts;
        let doc = resp.json();
        if let Err(m) = self.tracker.observe(self.poll, self.profile, doc.as_ref()) {
            return PollStep::Failed(m);
        }
        let until = check_expect(&self.poll.until, resp, vars);
        if until.is_ok() {
            if let Some(c) = self.captures {
                if let Err(m) = apply_captures(c, resp, vars) {
                    return PollStep::Failed(m);
                }
            }
            return PollStep::Reached;
        }
        let state = self.tracker.states.last().cloned();
        self.last_seen = Some(match &state {
            Some(s) => format!("state `{s}`"),
            None => format!("status {}", resp.status),
        });
        if let Some(ff) = &self.poll.fail_fast {
            if check_expect(ff, resp, vars).is_ok() {
                let at = state.map(|s| format!(" (state `{s}`)")).unwrap_or_default();
                let why = until.err();
                return PollStep::Failed(Mismatch {
                    message: format!(
                        "a fail_fast condition matched after {attempts} request(s){at}"
                    ),
                    expected: why
                        .as_ref()
                        .map(|m| m.expected.clone())
                        .unwrap_or_else(|| "the `until` condition".into()),
                    actual: why
                        .map(|m| m.actual)
                        .unwrap_or_else(|| "fail_fast matched".into()),
                });
            }
        }
        self.next_or_timeout(until.err())
    }

    /// Feeds a request that got no answer (only drivers that keep polling through
    /// transport errors call this).
    pub fn transport_error(&mut self, reason: &str) -> PollStep {
        self.attempts += 1;
        self.last_seen = Some(reason.to_string());
        self.next_or_timeout(None)
    }

    fn next_or_timeout(&self, why: Option<Mismatch>) -> PollStep {
        if self.started.elapsed() + self.interval <= self.timeout {
            return PollStep::Again(self.interval);
        }
        let state = match (self.tracker.states.last(), self.tracker.current_state_age()) {
            (Some(s), Some(age)) => {
                format!("; state stayed `{s}` for {:.1} s", age.as_secs_f64())
            }
            _ => match &self.last_seen {
                Some(last) => format!("; last: {last}"),
                None => String::new(),
            },
        };
        let detail = why.as_ref().map(|m| m.message.clone()).unwrap_or_default();
        PollStep::TimedOut(Mismatch {
            message: format!(
                "timed out after {} ({} requests){state}: {detail}",
                humantime::format_duration(self.timeout),
                self.attempts
            ),
            expected: why.as_ref().map(|m| m.expected.clone()).unwrap_or_default(),
            actual: why.map(|m| m.actual).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EnvMap;

    fn setup() -> (Poll, Profile) {
        let profile = Profile::parse(
            "name: t\nbase_url: http://127.0.0.1:1\nstate_machines:\n  flow:\n    terminal: [done]\n    transitions:\n      waiting: [done]\n    max_dwell: { waiting: 20ms }\n",
            "t.target.yaml",
            &EnvMap::default(),
        )
        .expect("profile");
        let poll: Poll = serde_yaml_ng::from_str(
            "request: { method: GET, path: /x }\nuntil: { status: 200 }\ntrack: \"$.status\"\nstate_machine: flow\n",
        )
        .expect("poll");
        (poll, profile)
    }

    fn waiting() -> Value {
        serde_json::json!({"status": "waiting"})
    }

    #[test]
    fn a_state_that_outlives_its_dwell_fails() {
        let (poll, profile) = setup();
        let mut t = PollTracker::default();
        assert!(t.observe(&poll, &profile, Some(&waiting())).is_ok());
        std::thread::sleep(Duration::from_millis(40));
        let e = t
            .observe(&poll, &profile, Some(&waiting()))
            .expect_err("over its 20 ms");
        assert!(e.message.contains("longer than the 20ms"), "{}", e.message);
    }

    #[test]
    fn time_the_poll_was_stalled_is_not_counted() {
        let (poll, profile) = setup();
        // No grace: every gap beyond the (zero) interval is a stall.
        let mut t = PollTracker {
            grace: Duration::ZERO,
            ..PollTracker::default()
        };
        assert!(t.observe(&poll, &profile, Some(&waiting())).is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.observe(&poll, &profile, Some(&waiting())).is_ok());
        // A change resets both the age and the stall.
        assert!(t
            .observe(
                &poll,
                &profile,
                Some(&serde_json::json!({"status": "done"}))
            )
            .is_ok());
        assert_eq!(t.stalled, Duration::ZERO);
    }
}
