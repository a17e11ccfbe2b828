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
//!
//! Concurrent claims of one process would otherwise read the same counts and all serve
//! the same account (two workers freed at once, tenant A with two released flows, tenant
//! B with one: both took A's, and B's flow waited a whole phase of A's). So a claim in
//! progress counts as one more flow in flight for its account until it commits: the order
//! and that reservation are taken under one lock ([`Fairness::turn`]).

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
    memory: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// The last turn handed out.
    turn: u64,
    /// account → turn at which this process last served it.
    served: HashMap<Uuid, u64>,
    /// account → claims of this process in progress for it.
    claiming: HashMap<Uuid, i64>,
}

impl Memory {
    fn reserve(&mut self, account: Uuid) {
        *self.claiming.entry(account).or_insert(0) += 1;
    }

    fn release(&mut self, account: Uuid) {
        if let Some(n) = self.claiming.get_mut(&account) {
            *n -= 1;
            if *n <= 0 {
                self.claiming.remove(&account);
            }
        }
    }
}

impl Fairness {
    pub(crate) fn new(cap: u32) -> Self {
        Fairness {
            cap,
            memory: Mutex::new(Memory::default()),
        }
    }

    /// Most flows of one account in flight at once; 0: no cap.
    pub(crate) fn cap(&self) -> u32 {
        self.cap
    }

    /// One claim's turn: the accounts to try, in order (accounts at their cap left out),
    /// the first one already reserved. Keep the turn until the claim has committed.
    pub(crate) fn turn(&self, candidates: &[Candidate]) -> Turn<'_> {
        let mut memory = self.memory();
        let order = self.order_from(candidates, &memory);
        if let Some(first) = order.first() {
            memory.reserve(*first);
        }
        let held = order.first().copied();
        Turn {
            fairness: self,
            order,
            next: 0,
            held,
        }
    }

    fn order_from(&self, candidates: &[Candidate], memory: &Memory) -> Vec<Uuid> {
        let mut open: Vec<(i64, Option<u64>, Uuid)> = candidates
            .iter()
            .filter(|c| self.cap == 0 || c.in_flight < i64::from(self.cap))
            .map(|c| {
                let claiming = memory.claiming.get(&c.account).copied().unwrap_or(0);
                (
                    c.in_flight + claiming,
                    memory.served.get(&c.account).copied(),
                    c.account,
                )
            })
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

    /// The memory, also after a panic elsewhere while it was held (it stays consistent:
    /// every update is a single insert or counter step).
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The accounts one claim tries, in the fair order; the account being tried counts as
/// one more flow in flight for the other claims of this process until the turn is
/// dropped.
pub(crate) struct Turn<'a> {
    fairness: &'a Fairness,
    order: Vec<Uuid>,
    /// Index in `order` of the account [`Turn::next`] returns next.
    next: usize,
    /// The account reserved now.
    held: Option<Uuid>,
}

impl Turn<'_> {
    /// The next account to try (reserved in place of the previous one).
    pub(crate) fn next_account(&mut self) -> Option<Uuid> {
        let account = self.order.get(self.next).copied()?;
        self.next += 1;
        if self.held != Some(account) {
            let previous = self.held.replace(account);
            let mut m = self.fairness.memory();
            if let Some(p) = previous {
                m.release(p);
            }
            m.reserve(account);
        }
        Some(account)
    }

    /// The account tried last has been served (its flow claimed).
    pub(crate) fn served(&self) {
        let Some(account) = self.held else { return };
        let mut m = self.fairness.memory();
        if m.served.len() >= MAX_REMEMBERED {
            m.served.clear();
        }
        m.turn += 1;
        let turn = m.turn;
        m.served.insert(account, turn);
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(account) = self.held.take() {
            self.fairness.memory().release(account);
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

    fn order(f: &Fairness, candidates: &[Candidate]) -> Vec<Uuid> {
        f.turn(candidates).order.clone()
    }

    /// A claim of `account`'s flow that committed.
    fn serve(f: &Fairness, account: Uuid) {
        let mut turn = f.turn(&[c(account.as_u128(), 0)]);
        assert_eq!(turn.next_account(), Some(account));
        turn.served();
    }

    #[test]
    fn fewest_in_flight_first_then_least_recently_served() {
        let f = Fairness::new(0);
        let (a, b, d) = (c(1, 3), c(2, 0), c(3, 0));
        assert_eq!(order(&f, &[a, b, d]), vec![b.account, d.account, a.account]);
        serve(&f, b.account);
        // b and d both idle: d was never served, so d goes first.
        assert_eq!(order(&f, &[a, b, d]), vec![d.account, b.account, a.account]);
        serve(&f, d.account);
        assert_eq!(order(&f, &[b, d]), vec![b.account, d.account]);
    }

    #[test]
    fn concurrent_claims_of_one_process_serve_different_accounts() {
        let f = Fairness::new(0);
        let (a, b) = (c(1, 0), c(2, 0));
        serve(&f, b.account);
        // Both claims read the same counts; the first takes a (b was served last), the
        // second, while the first is in progress, sees a as busier and takes b.
        let mut first = f.turn(&[a, b]);
        assert_eq!(first.next_account(), Some(a.account));
        let mut second = f.turn(&[a, b]);
        assert_eq!(second.next_account(), Some(b.account));
        // a had nothing to claim after all: the first moves on, and a is free again.
        assert_eq!(first.next_account(), Some(b.account));
        drop(second);
        drop(first);
        assert_eq!(order(&f, &[a, b]), vec![a.account, b.account]);
        assert!(f.memory().claiming.is_empty());
    }

    #[test]
    fn an_account_at_its_cap_is_not_served() {
        let f = Fairness::new(2);
        let (a, b) = (c(1, 2), c(2, 1));
        assert_eq!(order(&f, &[a, b]), vec![b.account]);
        assert!(f.capped(&[a, b]));
        assert!(order(&f, &[a]).is_empty());
        assert!(!Fairness::new(0).capped(&[a]));
    }

    #[test]
    fn the_memory_is_bounded() {
        let f = Fairness::new(0);
        for i in 0..(MAX_REMEMBERED as u128 + 10) {
            serve(&f, Uuid::from_u128(i));
        }
        let len = f.memory().served.len();
        assert!(len <= MAX_REMEMBERED, "{len}");
    }
}
