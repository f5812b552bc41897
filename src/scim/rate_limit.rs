//! Request rate limits: a token bucket per key, refilled at a rate up to a burst. SCIM is
//! limited per accepted SCIM token, at `scim.requests_per_second` up to `scim.burst`. Over the limit a request gets 429 with
//! `Retry-After` in whole seconds: Okta waits exactly that long when the header is an
//! integer, and five minutes when it is missing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::directory::OrgId;

pub struct RateLimiter<K = OrgId> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: std::hash::Hash + Eq> RateLimiter<K> {
    /// `per_second` of zero turns the limit off.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token, or says in how many whole seconds one will be there.
    pub fn check(&self, org: K) -> Result<(), u64> {
        self.check_at(org, Instant::now())
    }

    fn check_at(&self, org: K, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        let bucket = buckets.entry(org).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let org = OrgId::new();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(org, t0).is_ok());
        }
        assert_eq!(limiter.check_at(org, t0), Err(1));
        assert!(limiter
            .check_at(org, t0 + Duration::from_millis(500))
            .is_ok());
        assert!(
            limiter.check_at(OrgId::new(), t0).is_ok(),
            "organisations have their own buckets"
        );
    }

    #[test]
    fn zero_is_unlimited() {
        let limiter = RateLimiter::new(0.0, 1);
        let org = OrgId::new();
        assert!((0..1000).all(|_| limiter.check(org).is_ok()));
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let limiter = RateLimiter::new(0.1, 1);
        let org = OrgId::new();
        let t0 = Instant::now();
        assert!(limiter.check_at(org, t0).is_ok());
        assert_eq!(limiter.check_at(org, t0), Err(10));
    }
}
