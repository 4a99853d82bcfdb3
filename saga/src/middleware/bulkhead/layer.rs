//! [`BulkheadLayer`]: the shared limit, its closure API and its [`Layer`] impl.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tower_layer::Layer;

use super::{Bulkhead, BulkheadConfig};
use crate::middleware::MiddlewareError;

/// A bulkhead: at most `max_concurrent` calls in flight, at most `max_waiting` callers queued (FIFO)
/// for at most `wait_timeout`; anyone else is rejected with the transient
/// [`MiddlewareError::BulkheadFull`].
///
/// The limit lives in the layer: clones (and every service made from it) share one semaphore. Separate
/// bulkheads are independent, so a slow payment gateway cannot use up the slots of the carrier.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use saga::middleware::{BulkheadConfig, BulkheadLayer};
/// let bulkhead = BulkheadLayer::new(BulkheadConfig::default().with_max_concurrent(2));
/// let answer = bulkhead.call(|| async { Ok::<_, std::io::Error>(42) }).await;
/// assert_eq!(answer.ok(), Some(42));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    semaphore: Semaphore,
    waiting: AtomicUsize,
    config: BulkheadConfig,
}

/// Counts a caller in the wait queue for as long as it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for BulkheadLayer {
    fn default() -> Self {
        Self::new(BulkheadConfig::default())
    }
}

impl BulkheadLayer {
    /// A bulkhead with these limits.
    #[must_use]
    pub fn new(config: BulkheadConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                semaphore: Semaphore::new(config.max_concurrent()),
                waiting: AtomicUsize::new(0),
                config,
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BulkheadConfig {
        &self.shared.config
    }

    /// Calls in flight now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.shared
            .config
            .max_concurrent()
            .saturating_sub(self.shared.semaphore.available_permits())
    }

    /// Callers waiting for a slot now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }

    /// Runs `f` once a slot is free.
    ///
    /// # Errors
    /// [`MiddlewareError::BulkheadFull`] if the wait queue is full or the wait times out, otherwise
    /// `f`'s error as [`MiddlewareError::Inner`].
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, MiddlewareError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _permit = self.acquire().await?;
        f().await.map_err(MiddlewareError::Inner)
    }

    async fn acquire<E>(&self) -> Result<SemaphorePermit<'_>, MiddlewareError<E>> {
        let shared = &*self.shared;
        if let Ok(permit) = shared.semaphore.try_acquire() {
            return Ok(permit);
        }
        let full = |waited| MiddlewareError::BulkheadFull {
            name: shared.config.name_arc(),
            max_concurrent: shared.config.max_concurrent(),
            waited,
        };
        let queued = shared.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&shared.waiting);
        if queued >= shared.config.max_waiting() {
            return Err(full(Duration::ZERO));
        }
        let started = Instant::now();
        match tokio::time::timeout(shared.config.wait_timeout(), shared.semaphore.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treat it like a timeout if it ever is.
            Ok(Err(_)) | Err(_) => Err(full(started.elapsed())),
        }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, self.clone())
    }
}
