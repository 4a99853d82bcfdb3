//! [`Bulkhead`]: a step or compensation behind a bulkhead.

use async_trait::async_trait;

use super::BulkheadLayer;
use crate::step::{Compensation, SagaData, Step, StepContext, StepError};

/// A [`Step`] or [`Compensation`] behind a [`BulkheadLayer`]. A rejection becomes
/// [`StepError::transient`], so the executor retries it within the step's budget.
#[derive(Debug, Clone)]
pub struct Bulkhead<S> {
    inner: S,
    bulkhead: BulkheadLayer,
}

impl<S> Bulkhead<S> {
    /// Wraps `inner` with `bulkhead` (a clone shares its limit).
    pub const fn new(inner: S, bulkhead: BulkheadLayer) -> Self {
        Self { inner, bulkhead }
    }

    /// The bulkhead.
    pub const fn bulkhead(&self) -> &BulkheadLayer {
        &self.bulkhead
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
impl<D: SagaData, S: Step<D>> Step<D> for Bulkhead<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        Ok(self.bulkhead.call(|| self.inner.execute(ctx, data)).await?)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<D: SagaData, S: Compensation<D>> Compensation<D> for Bulkhead<S> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        Ok(self
            .bulkhead
            .call(|| self.inner.compensate(ctx, data))
            .await?)
    }
}
