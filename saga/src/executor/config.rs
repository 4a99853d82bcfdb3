//! Executor configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::definition::RetryPolicy;

/// Settings of an [`Executor`](super::Executor), built with `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use saga::ExecutorConfig;
/// let config = ExecutorConfig::default()
///     .with_owner_id("orders-1")
///     .with_lease_ttl(Duration::from_secs(10));
/// assert_eq!(config.owner_id(), "orders-1");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecutorConfig {
    pub(crate) owner_id: Arc<str>,
    pub(crate) lease_ttl: Duration,
    pub(crate) log_retry: RetryPolicy,
    pub(crate) recovery_batch: usize,
    pub(crate) recovery_concurrency: usize,
}

impl Default for ExecutorConfig {
    /// A random owner id, 30 s leases, log writes retried 5 times, recovery in batches of 1024 with 64
    /// sagas in flight.
    fn default() -> Self {
        Self {
            owner_id: Arc::from(format!("executor-{}", uuid::Uuid::new_v4())),
            lease_ttl: Duration::from_secs(30),
            log_retry: RetryPolicy::default()
                .with_max_attempts(5)
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_secs(1)),
            recovery_batch: 1024,
            recovery_concurrency: 64,
        }
    }
}

impl ExecutorConfig {
    /// The identity written as lease owner. Give a restarted process the same id (e.g. its host name) and
    /// its `recover()` takes its own sagas back at once instead of waiting for their leases to expire.
    /// Two live executors must never share an id.
    #[must_use]
    pub fn with_owner_id(mut self, owner: impl Into<String>) -> Self {
        self.owner_id = Arc::from(owner.into());
        self
    }

    /// How long a saga stays owned without a log write. Make it longer than your slowest step attempt:
    /// a lease that expires mid-step lets another executor recover the saga (safe, thanks to fencing and
    /// idempotency keys, but wasteful).
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Retry policy for transient saga-log errors.
    #[must_use]
    pub fn with_log_retry(mut self, policy: RetryPolicy) -> Self {
        self.log_retry = policy;
        self
    }

    /// How many sagas one `claim` of `recover()` takes (at least 1).
    #[must_use]
    pub fn with_recovery_batch(mut self, batch: usize) -> Self {
        self.recovery_batch = batch.max(1);
        self
    }

    /// How many recovered sagas run at once (at least 1).
    #[must_use]
    pub fn with_recovery_concurrency(mut self, concurrency: usize) -> Self {
        self.recovery_concurrency = concurrency.max(1);
        self
    }

    /// The owner id.
    #[must_use]
    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// The lease length.
    #[must_use]
    pub const fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }
}
