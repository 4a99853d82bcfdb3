//! The bulkhead's configuration.

use std::sync::Arc;
use std::time::Duration;

/// Limits of a [`BulkheadLayer`](super::BulkheadLayer).
///
/// ```
/// use std::time::Duration;
/// use saga::middleware::BulkheadConfig;
/// let config = BulkheadConfig::default()
///     .with_name("payment-gateway")
///     .with_max_concurrent(4)
///     .with_max_waiting(16)
///     .with_wait_timeout(Duration::from_millis(250));
/// assert_eq!(config.max_concurrent(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkheadConfig {
    name: Arc<str>,
    max_concurrent: usize,
    max_waiting: usize,
    wait_timeout: Duration,
}

impl Default for BulkheadConfig {
    /// Named `"bulkhead"`; 10 concurrent calls, 100 waiting callers, 1 s wait timeout.
    fn default() -> Self {
        Self {
            name: Arc::from("bulkhead"),
            max_concurrent: 10,
            max_waiting: 100,
            wait_timeout: Duration::from_secs(1),
        }
    }
}

impl BulkheadConfig {
    /// The name used in [`MiddlewareError::BulkheadFull`](crate::middleware::MiddlewareError::BulkheadFull).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Calls allowed in flight at once (at least 1, at most tokio's semaphore limit).
    #[must_use]
    pub fn with_max_concurrent(mut self, calls: usize) -> Self {
        self.max_concurrent = calls.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// Callers allowed to wait for a slot; more are rejected at once. `0`: never wait.
    #[must_use]
    pub fn with_max_waiting(mut self, callers: usize) -> Self {
        self.max_waiting = callers;
        self
    }

    /// How long a caller waits for a slot before it is rejected.
    #[must_use]
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// The bulkhead's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The concurrency limit.
    #[must_use]
    pub const fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// The wait-queue limit.
    #[must_use]
    pub const fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// The wait timeout.
    #[must_use]
    pub const fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }
}
