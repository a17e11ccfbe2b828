//! `poll:` — repeat a request until a condition holds, watching every state it passes.
//! The decisions are the [`PollMachine`]'s; this file only sends and records.

use crate::run::*;

impl Exec<'_> {
    pub(crate) async fn poll_step(
        &self,
        turn: Turn<'_>,
        poll: &Poll,
        vars: &mut Vars,
    ) -> StepResult {
        let Turn { step, identity } = turn;
        let mut r = self.new_result(step, StepKind::Poll);
        let interval = poll
            .interval
            .map(|d| d.0)
            .unwrap_or(Duration::from_millis(200));
        let timeout = poll
            .timeout
            .map(|d| d.0)
            .unwrap_or_else(|| self.profile.poll_timeout());
        let mut machine =
            PollMachine::new(poll, self.profile, step.capture.as_ref(), interval, timeout);
        loop {
            let sent = match self
                .send_spec(&poll.request, vars, identity, Expecting::default())
                .await
            {
                Ok(s) => s,
                Err(f) => {
                    r.outcome = Outcome::Error;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            };
            for e in sent.exchanges() {
                push_exchange(&mut r.exchanges, e, machine.attempts());
            }
            let resp = match &sent.resp {
                Ok(x) => x,
                Err(msg) => {
                    // A transport error is an infrastructure error: report it, stop.
                    let f = Self::transport_failure(&sent, msg);
                    r.outcome = Outcome::Error;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            };
            match machine.response(resp, vars) {
                PollStep::Again(wait) => tokio::time::sleep(wait).await,
                PollStep::Reached => {
                    r.summary = Some(format!(
                        "condition met after {} request(s) in {:.1} s",
                        machine.attempts(),
                        machine.elapsed().as_secs_f64()
                    ));
                    break;
                }
                PollStep::Failed(m) | PollStep::TimedOut(m) => {
                    let f = sent.failure(m);
                    r.outcome = Outcome::Failed;
                    r.summary = Some(f.message.clone());
                    r.failure = Some(f);
                    break;
                }
            }
        }
        r.states_seen = machine.into_states();
        r
    }
}
