//! [`CircuitBreaker`]: a step or compensation behind a breaker.

use async_trait::async_trait;

use super::CircuitBreakerLayer;
use crate::step::{Compensation, SagaData, Step, StepContext, StepError};

/// A [`Step`] or [`Compensation`] behind a [`CircuitBreakerLayer`].
///
/// An open breaker turns into [`StepError::transient`] with
/// [`retry_after`](StepError::retry_after) set to the time until the breaker half-opens, so the executor
/// waits at least that long before its next attempt (within the step's retry budget and the saga's
/// deadline; when the budget runs out the step's outcome is unknown and it is compensated).
#[derive(Debug, Clone)]
pub struct CircuitBreaker<S> {
    inner: S,
    breaker: CircuitBreakerLayer,
}

impl<S> CircuitBreaker<S> {
    /// Wraps `inner` with `breaker` (a clone shares its state).
    pub const fn new(inner: S, breaker: CircuitBreakerLayer) -> Self {
        Self { inner, breaker }
    }

    /// The breaker.
    pub const fn breaker(&self) -> &CircuitBreakerLayer {
        &self.breaker
    }

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
impl<D: SagaData, S: Step<D>> Step<D> for CircuitBreaker<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        Ok(self.breaker.call(|| self.inner.execute(ctx, data)).await?)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: SagaData, S: Compensation<D>> Compensation<D> for CircuitBreaker<S> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        Ok(self
            .breaker
            .call(|| self.inner.compensate(ctx, data))
            .await?)
    }
}
