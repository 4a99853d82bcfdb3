//! Circuit breaker: closed, open, half-open.
//!
//! - **Closed**: calls go through; transient failures are counted. The breaker opens after
//!   [`consecutive_failures`](CircuitBreakerConfig::with_consecutive_failures) in a row, or when the
//!   failure rate over the rolling window reaches
//!   [`failure_rate`](CircuitBreakerConfig::with_failure_rate) with enough calls.
//! - **Open**: every call fails fast with [`MiddlewareError::CircuitOpen`](super::MiddlewareError)
//!   carrying `retry_after`; the wrapped service is not called.
//! - **Half-open**: after the open duration, up to
//!   [`half_open_calls`](CircuitBreakerConfig::with_half_open_calls) trial calls go through (others fail
//!   fast). All succeeding closes the breaker; one failing opens it again.
//!
//! Only transient failures count (see [`Classify`](super::Classify)): a permanent
//! [`StepError`](crate::StepError), a business "no", proves the service is up and counts as a success.
//! Every state change is a `tracing` event (`warn` when opening, `info` otherwise) with the breaker's
//! name. In the closed state a call costs one atomic load and one or two atomic updates.

mod config;
pub(crate) mod core;
mod layer;
#[cfg(all(test, loom))]
mod loom;
mod service;
mod window;
mod word;

use std::fmt;

pub use config::CircuitBreakerConfig;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;

/// The state of a [`CircuitBreakerLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go through and are counted.
    Closed,
    /// Calls fail fast.
    Open,
    /// A limited number of trial calls go through.
    HalfOpen,
}

impl CircuitState {
    /// `"closed"`, `"open"` or `"half_open"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
