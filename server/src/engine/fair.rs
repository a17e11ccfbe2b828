//! Fair claiming between tenants.
//!
//! One global queue, oldest first, lets a tenant that queued 12 000 flows keep every other
//! tenant's new flow in `initialized` for minutes. Instead, each claim first asks which
//! client accounts have runnable work and how many of their flows hold a live lease (two
//! index probes per account), then serves the account with the fewest flows in flight,
//! ties going to the one this process served least recently (round robin), and claims that
//! account's oldest runnable flow. An account with `cap` flows in flight is not served at
//! all: with the default cap of `workers - 1`, one worker is always left for the other
//! tenants, so a tenant's long phases cannot hold every worker.
//!
//! The in-flight count is global (read from the database, across processes); the round
//! robin's memory is per process, which is enough: in-flight counts dominate the order.

use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Past this many remembered accounts the memory is reset (order falls back to the
/// in-flight counts until each account is served again).
const MAX_REMEMBERED: usize = 100_000;

/// An account with runnable work, as the candidates query sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub account: Uuid,
    /// Flows of the account holding a live lease (a phase running), in any process.
    pub in_flight: i64,
}

pub(crate) struct Fairness {
    /// Most flows of one account in flight at once; 0: no cap.
    cap: u32,
    /// account → turn at which this process last served it.
    served: Mutex<(u64, HashMap<Uuid, u64>)>,
}

impl Fairness {
    pub(crate) fn new(cap: u32) -> Self {
        Fairness {
            cap,
            served: Mutex::new((0, HashMap::new())),
        }
    }

    /// Most flows of one account in flight at once; 0: no cap.
    pub(crate) fn cap(&self) -> u32 {
        self.cap
    }

    /// The accounts to try, in order; accounts at their cap are left out.
    pub(crate) fn order(&self, candidates: &[Candidate]) -> Vec<Uuid> {
        let served = self.served.lock().ok();
        let last = |a: &Uuid| served.as_ref().and_then(|s| s.1.get(a).copied());
        let mut open: Vec<(i64, Option<u64>, Uuid)> = candidates
            .iter()
            .filter(|c| self.cap == 0 || c.in_flight < i64::from(self.cap))
            .map(|c| (c.in_flight, last(&c.account), c.account))
            .collect();
        // Fewest in flight first; then never served, then least recently served.
        open.sort();
        open.into_iter().map(|(_, _, a)| a).collect()
    }

    /// Whether some account was left out only because of its cap.
    pub(crate) fn capped(&self, candidates: &[Candidate]) -> bool {
        self.cap > 0
            && candidates
                .iter()
                .any(|c| c.in_flight >= i64::from(self.cap))
    }

    pub(crate) fn served(&self, account: Uuid) {
        if let Ok(mut s) = self.served.lock() {
            if s.1.len() >= MAX_REMEMBERED {
                s.1.clear();
            }
            s.0 += 1;
            let turn = s.0;
            s.1.insert(account, turn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u128, in_flight: i64) -> Candidate {
        Candidate {
            account: Uuid::from_u128(n),
            in_flight,
        }
    }

    #[test]
    fn fewest_in_flight_first_then_least_recently_served() {
        let f = Fairness::new(0);
        let (a, b, d) = (c(1, 3), c(2, 0), c(3, 0));
        assert_eq!(f.order(&[a, b, d]), vec![b.account, d.account, a.account]);
        f.served(b.account);
        // b and d both idle: d was never served, so d goes first.
        assert_eq!(f.order(&[a, b, d]), vec![d.account, b.account, a.account]);
        f.served(d.account);
        assert_eq!(f.order(&[b, d]), vec![b.account, d.account]);
    }

    #[test]
    fn an_account_at_its_cap_is_not_served() {
        let f = Fairness::new(2);
        let (a, b) = (c(1, 2), c(2, 1));
        assert_eq!(f.order(&[a, b]), vec![b.account]);
        assert!(f.capped(&[a, b]));
        assert!(f.order(&[a]).is_empty());
        assert!(!Fairness::new(0).capped(&[a]));
    }

    #[test]
    fn the_memory_is_bounded() {
        let f = Fairness::new(0);
        for i in 0..(MAX_REMEMBERED as u128 + 10) {
            f.served(Uuid::from_u128(i));
        }
        let len = f.served.lock().map(|s| s.1.len()).unwrap_or(0);
        assert!(len <= MAX_REMEMBERED, "{len}");
    }
}
