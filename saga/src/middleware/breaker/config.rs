//! The circuit breaker's configuration.

use std::sync::Arc;
use std::time::Duration;

/// How a [`CircuitBreakerLayer`](super::CircuitBreakerLayer) decides to open, how long it stays open,
/// and how many trial calls it lets through when half-open.
///
/// The breaker opens on **either** trigger that is enabled:
/// - `consecutive_failures` transient failures in a row (default 5; `0` disables), or
/// - a failure rate at or above `failure_rate` over the rolling `window`, once at least `minimum_calls`
///   calls were made in that window (default 50 % over 10 s with at least 20 calls).
///
/// ```
/// use std::time::Duration;
/// use saga::middleware::CircuitBreakerConfig;
/// let config = CircuitBreakerConfig::default()
///     .with_name("carrier")
///     .with_consecutive_failures(3)
///     .with_failure_rate(0.5, 10)
///     .with_open_duration(Duration::from_secs(30))
///     .with_half_open_calls(2);
/// assert_eq!(config.consecutive_failures(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    name: Arc<str>,
    consecutive_failures: u32,
    failure_rate: Option<f64>,
    minimum_calls: u32,
    window: Duration,
    open_duration: Duration,
    half_open_calls: u32,
}

impl Default for CircuitBreakerConfig {
    /// Named `"breaker"`; 5 consecutive failures or 50 % over 10 s (at least 20 calls); open for 10 s;
    /// one trial call when half-open.
    fn default() -> Self {
        Self {
            name: Arc::from("breaker"),
            consecutive_failures: 5,
            failure_rate: Some(0.5),
            minimum_calls: 20,
            window: Duration::from_secs(10),
            open_duration: Duration::from_secs(10),
            half_open_calls: 1,
        }
    }
}

impl CircuitBreakerConfig {
    /// The name used in `tracing` events and in [`MiddlewareError::CircuitOpen`](super::super::MiddlewareError::CircuitOpen).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Opens after this many transient failures in a row; `0` disables this trigger.
    #[must_use]
    pub fn with_consecutive_failures(mut self, failures: u32) -> Self {
        self.consecutive_failures = failures;
        self
    }

    /// Opens when at least `rate` (clamped to `0.0..=1.0`) of the calls in the rolling window failed,
    /// once the window holds at least `minimum_calls` calls (`0` is treated as `1`).
    #[must_use]
    pub fn with_failure_rate(mut self, rate: f64, minimum_calls: u32) -> Self {
        self.failure_rate = Some(if rate.is_nan() {
            1.0
        } else {
            rate.clamp(0.0, 1.0)
        });
        self.minimum_calls = minimum_calls.max(1);
        self
    }

    /// Disables the failure-rate trigger (and the rolling window's bookkeeping with it).
    #[must_use]
    pub fn without_failure_rate(mut self) -> Self {
        self.failure_rate = None;
        self
    }

    /// The length of the rolling window (10 buckets; at least 10 ms).
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_millis(10));
        self
    }

    /// How long the breaker stays open before it lets trial calls through.
    #[must_use]
    pub fn with_open_duration(mut self, duration: Duration) -> Self {
        self.open_duration = duration;
        self
    }

    /// How many trial calls a half-open breaker lets through (`0` is treated as `1`). All must succeed
    /// for it to close; one failure opens it again. Other calls fail fast meanwhile, with the open
    /// duration as their `retry_after` (the longest a trial can keep the breaker half-open before it
    /// opens again).
    #[must_use]
    pub fn with_half_open_calls(mut self, calls: u32) -> Self {
        self.half_open_calls = calls.clamp(1, super::word::MAX_TRIALS);
        self
    }

    /// The breaker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The consecutive-failure trigger (`0`: disabled).
    #[must_use]
    pub const fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The failure-rate trigger, if enabled.
    #[must_use]
    pub const fn failure_rate(&self) -> Option<f64> {
        self.failure_rate
    }

    /// The minimum number of calls in the window before the failure rate counts.
    #[must_use]
    pub const fn minimum_calls(&self) -> u32 {
        self.minimum_calls
    }

    /// The rolling window's length.
    #[must_use]
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// How long the breaker stays open.
    #[must_use]
    pub const fn open_duration(&self) -> Duration {
        self.open_duration
    }

    /// Trial calls when half-open.
    #[must_use]
    pub const fn half_open_calls(&self) -> u32 {
        self.half_open_calls
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }
}
