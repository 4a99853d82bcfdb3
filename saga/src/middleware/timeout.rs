//! Timeout: bounds how long a call may take; running out is a transient failure.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use tower_layer::Layer;

use super::MiddlewareError;
use crate::step::{Compensation, SagaData, Step, StepContext, StepError};

/// Fails a call with the transient [`MiddlewareError::TimedOut`] when it takes longer than the limit;
/// the call's future is dropped.
///
/// Put it *inside* a [`CircuitBreakerLayer`](super::CircuitBreakerLayer) so that a hanging dependency
/// counts as a failure, and inside a [`RetryLayer`](super::RetryLayer) so every attempt gets the full
/// limit (see [the module docs](super) on ordering).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use saga::middleware::{MiddlewareError, TimeoutLayer};
/// let timeout = TimeoutLayer::new(Duration::from_millis(10));
/// let slow = timeout
///     .call(|| async {
///         tokio::time::sleep(Duration::from_secs(1)).await;
///         Ok::<_, std::io::Error>(())
///     })
///     .await;
/// assert!(matches!(slow, Err(MiddlewareError::TimedOut { .. })));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutLayer {
    after: Duration,
}

impl Default for TimeoutLayer {
    /// 30 seconds.
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl TimeoutLayer {
    /// Calls time out after `after`.
    #[must_use]
    pub const fn new(after: Duration) -> Self {
        Self { after }
    }

    /// The limit.
    #[must_use]
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// Runs `f`, giving up after the limit.
    ///
    /// # Errors
    /// [`MiddlewareError::TimedOut`], or `f`'s error as [`MiddlewareError::Inner`].
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, MiddlewareError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match tokio::time::timeout(self.after, f()).await {
            Ok(result) => result.map_err(MiddlewareError::Inner),
            Err(_) => Err(MiddlewareError::TimedOut { after: self.after }),
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            timeout: *self,
        }
    }
}

/// A [`Step`] or [`Compensation`] limited by a [`TimeoutLayer`]. Running out becomes
/// [`StepError::transient`]: the outcome is unknown, so the executor retries and, when its budget runs
/// out, compensates.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    timeout: TimeoutLayer,
}

impl<S> Timeout<S> {
    /// The wrapped step.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the step.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: SagaData, S: Step<D>> Step<D> for Timeout<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        Ok(self.timeout.call(|| self.inner.execute(ctx, data)).await?)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: SagaData, S: Compensation<D>> Compensation<D> for Timeout<S> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        Ok(self
            .timeout
            .call(|| self.inner.compensate(ctx, data))
            .await?)
    }
}
