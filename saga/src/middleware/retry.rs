//! Retry: re-runs a failed call after a transient error, with the crate's [`RetryPolicy`].

use std::future::Future;

use async_trait::async_trait;
use tower_layer::Layer;

use super::Classify;
use crate::definition::RetryPolicy;
use crate::step::{Compensation, SagaData, Step, StepContext, StepError};

/// Retries transient failures (per [`Classify`]) with exponential backoff, full jitter and a cap on the
/// delay, exactly as [`RetryPolicy`] describes; a failure's
/// [`retry_after`](Classify::retry_after) (e.g. an open circuit's) is a floor on the delay.
/// Permanent failures are returned at once; when the attempts run out the last error is returned.
///
/// Steps already get the executor's retries (their `StepSpec::with_retry` policy), and every executor
/// attempt is recorded in the saga log. Use this layer for calls inside a participant, or when a few
/// quick, unrecorded retries should happen within one executor attempt: the two multiply.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use saga::{middleware::RetryLayer, RetryPolicy};
/// let calls = AtomicU32::new(0);
/// let retry = RetryLayer::new(RetryPolicy::default().with_max_attempts(3));
/// let result = retry
///     .call(|| async {
///         let n = calls.fetch_add(1, Ordering::Relaxed);
///         if n < 2 { Err(std::io::Error::other("flaky")) } else { Ok(n) }
///     })
///     .await;
/// assert_eq!(result.ok(), Some(2));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// Retries with this policy.
    #[must_use]
    pub const fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }

    /// The policy.
    #[must_use]
    pub const fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Calls `f` until it succeeds, fails permanently, or the policy runs out of attempts.
    ///
    /// # Errors
    /// The last error of `f`.
    pub async fn call<F, Fut, T, E>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_transient() && self.policy.allows_attempt(attempt + 1) => {
                    let delay = self.policy.delay_after(attempt, e.retry_after());
                    tracing::debug!(attempt, ?delay, "transient failure, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            retry: *self,
        }
    }
}

/// A [`Step`] or [`Compensation`] retried by a [`RetryLayer`].
///
/// Each attempt of a step starts from a fresh copy of the saga data, so a failed attempt leaves no
/// half-made changes behind, as with the executor's own retries.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    retry: RetryLayer,
}

impl<S> Retry<S> {
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
impl<D: SagaData, S: Step<D>> Step<D> for Retry<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        let inner = &self.inner;
        let start: &D = data;
        let done = self
            .retry
            .call(|| {
                let mut work = start.clone();
                async move { inner.execute(ctx, &mut work).await.map(|()| work) }
            })
            .await?;
        *data = done;
        Ok(())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: SagaData, S: Compensation<D>> Compensation<D> for Retry<S> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        self.retry.call(|| self.inner.compensate(ctx, data)).await
    }
}
