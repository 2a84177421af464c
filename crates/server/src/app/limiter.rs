//! Failed-login limiting: after `max_failures` failures for one account within the window, further
//! attempts are refused until the oldest failure leaves the window. Kept per node in memory: an
//! attacker spreading attempts over N nodes gets at most N times the allowance.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accounts tracked at most; beyond that the stalest are forgotten, so memory stays bounded.
const MAX_TRACKED: usize = 100_000;

pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` while the account is locked out.
    pub fn check(&self, account: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return Ok(());
        };
        let Some(times) = failures.get_mut(account) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() < self.max_failures as usize {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        let wait = self.window.saturating_sub(now.duration_since(oldest));
        Err(wait.as_secs().max(1))
    }

    pub fn record_failure(&self, account: &str) {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED && !failures.contains_key(account) {
            let window = self.window;
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = failures.entry(account.to_owned()).or_default();
        times.push_back(now);
        while times.len() > self.max_failures as usize {
            times.pop_front();
        }
    }

    pub fn record_success(&self, account: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_clears() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check("t/admin").is_ok());
            limiter.record_failure("t/admin");
        }
        let wait = limiter.check("t/admin").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limiter.check("t/other").is_ok());
        limiter.record_success("t/admin");
        assert!(limiter.check("t/admin").is_ok());
    }

    #[test]
    fn failures_leave_the_window() {
        let limiter = LoginLimiter::new(1, Duration::from_millis(1));
        limiter.record_failure("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check("a").is_ok());
    }
}
