//! Retry policy: attempts, exponential backoff with full jitter, a cap on the delay.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently an action is retried after a transient error.
///
/// The delay before attempt `n + 1` is drawn uniformly from `[0, min(max_delay, initial_delay * 2^(n-1))]`
/// ("full jitter"), and is never shorter than a `retry_after` the failing service asked for.
///
/// ```
/// use std::time::Duration;
/// use saga::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_initial_delay(Duration::from_millis(20))
///     .with_max_delay(Duration::from_secs(2));
/// assert_eq!(policy.max_attempts(), Some(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: Option<u32>,
    initial_delay: Duration,
    max_delay: Duration,
    jitter: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, 50 ms initial delay, 5 s cap, full jitter.
    fn default() -> Self {
        Self {
            max_attempts: Some(3),
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    #[must_use]
    pub fn no_retry() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// Retries until success (the default of retriable steps), backing off up to `max_delay`.
    #[must_use]
    pub fn forever() -> Self {
        Self {
            max_attempts: None,
            ..Self::default()
        }
    }

    /// Total attempts including the first; `0` is treated as `1`.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// The base of the exponential backoff.
    #[must_use]
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The cap on any single delay.
    #[must_use]
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Turns jitter off (delays become exactly `initial * 2^(n-1)`, capped); useful in tests.
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Total attempts, or `None` for unlimited.
    #[must_use]
    pub const fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The base delay.
    #[must_use]
    pub const fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The delay cap.
    #[must_use]
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Whether another attempt is allowed after `attempt` attempts failed.
    #[must_use]
    pub fn allows_attempt(&self, next_attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| next_attempt <= max)
    }

    /// The delay before attempt `failed_attempt + 1`, at least `retry_after`.
    #[must_use]
    pub fn delay_after(&self, failed_attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = failed_attempt.saturating_sub(1).min(31);
        let ceiling = self
            .initial_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let base = if self.jitter && !ceiling.is_zero() {
            let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
        } else {
            ceiling
        };
        retry_after.map_or(base, |floor| base.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default()
            .with_initial_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(35))
            .without_jitter();
        assert_eq!(p.delay_after(1, None), Duration::from_millis(10));
        assert_eq!(p.delay_after(2, None), Duration::from_millis(20));
        assert_eq!(p.delay_after(3, None), Duration::from_millis(35));
        assert_eq!(p.delay_after(40, None), Duration::from_millis(35));
        assert_eq!(
            p.delay_after(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        let p = RetryPolicy::default()
            .with_initial_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(80));
        for attempt in 1..10 {
            let ceiling =
                Duration::from_millis(10 * (1 << (attempt - 1))).min(Duration::from_millis(80));
            assert!(p.delay_after(attempt, None) <= ceiling);
        }
    }

    #[test]
    fn attempts_are_bounded_unless_forever() {
        let p = RetryPolicy::default();
        assert!(p.allows_attempt(3));
        assert!(!p.allows_attempt(4));
        assert!(RetryPolicy::forever().allows_attempt(u32::MAX));
        assert_eq!(RetryPolicy::no_retry().max_attempts(), Some(1));
    }
}
