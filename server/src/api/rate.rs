//! The per-tenant create rate limit: each client account may create `rate` flows per
//! second after a burst of `burst` (GCRA, `governor`); more are answered 429
//! `rate_limited` with `Retry-After`. Counted in this process (each server process has its
//! own allowance); checked before any database work, so a flood costs no round trip.

use crate::api::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use uuid::Uuid;

/// Past this many accounts tracked, forget the ones whose allowance is full again.
const PRUNE_ABOVE: usize = 10_000;

pub(crate) struct CreateRate {
    limiter: DefaultKeyedRateLimiter<Uuid>,
    rate: u32,
    burst: u32,
}

impl CreateRate {
    /// None when `rate` is 0 (no limit).
    pub(crate) fn new(rate: u32, burst: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(rate)?;
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        Some(CreateRate {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            rate,
            burst: burst.get(),
        })
    }

    /// Counts one create of `account`; 429 when over its allowance.
    pub(crate) fn check(&self, account: Uuid) -> Result<(), ApiError> {
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&account).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Retry-After is in whole seconds; never tell a client 0.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let seconds = u32::try_from(seconds).unwrap_or(u32::MAX).max(1);
            ApiError::rate_limited(self.rate, self.burst, seconds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_create_is_told_when_to_retry() {
        let rate = CreateRate::new(1, 3).expect("a limit");
        let a = Uuid::from_u128(1);
        for _ in 0..3 {
            assert!(rate.check(a).is_ok());
        }
        let refused = rate.check(a).expect_err("over the burst");
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(refused.code, "rate_limited");
        assert_eq!(refused.retry_after, Some(1));
        // Another tenant has its own allowance.
        assert!(rate.check(Uuid::from_u128(2)).is_ok());
    }

    #[test]
    fn rate_zero_is_no_limit() {
        assert!(CreateRate::new(0, 10).is_none());
    }
}
