//! What a step is: the [`Step`] and [`Compensation`] traits, their context and their typed errors.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::trace::TraceContext;

mod error;

pub use error::{BoxError, StepError, StepErrorKind};

/// The data a saga carries from step to step.
///
/// Any `Serialize + DeserializeOwned + Clone + Send + Sync + 'static` type qualifies; it is stored in the
/// saga log after every completed step, so a recovered saga resumes with exactly the data the last recorded
/// step produced. User code never sees `serde_json::Value`.
pub trait SagaData: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T> SagaData for T where T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

/// What a step execution knows about itself: which saga, which step, which attempt, and the attempt's
/// place in the saga's trace.
#[derive(Debug, Clone)]
pub struct StepContext {
    saga_id: SagaId,
    step: u32,
    step_name: Arc<str>,
    direction: Direction,
    attempt: u32,
    trace: TraceContext,
}

impl StepContext {
    /// Builds a context; the executor does this, tests and custom runtimes may too. Its trace context
    /// is a new span of the saga's trace ([`TraceContext::for_saga`]); the executor replaces it with a
    /// child of the saga's span ([`with_trace`](Self::with_trace)).
    #[must_use]
    pub fn new(
        saga_id: SagaId,
        step: u32,
        step_name: Arc<str>,
        direction: Direction,
        attempt: u32,
    ) -> Self {
        Self {
            saga_id,
            step,
            step_name,
            direction,
            attempt,
            trace: TraceContext::for_saga(saga_id),
        }
    }

    /// The same context in the given trace context.
    #[must_use]
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = trace;
        self
    }

    /// The saga this execution belongs to.
    #[must_use]
    pub const fn saga_id(&self) -> SagaId {
        self.saga_id
    }

    /// Zero-based index of the step in the definition.
    #[must_use]
    pub const fn step(&self) -> u32 {
        self.step
    }

    /// The step's name in the definition.
    #[must_use]
    pub fn step_name(&self) -> &str {
        &self.step_name
    }

    /// Action or compensation.
    #[must_use]
    pub const fn direction(&self) -> Direction {
        self.direction
    }

    /// 1 for the first attempt, counting on across retries and recovery. An operator
    /// [`retry`](crate::Executor::retry) of a stuck saga starts a fresh retry budget, and its attempts
    /// count from 1 again (the idempotency key stays the same).
    #[must_use]
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The stable key participants deduplicate on: the same for every attempt of this execution,
    /// before and after a crash.
    #[must_use]
    pub const fn idempotency_key(&self) -> IdempotencyKey {
        IdempotencyKey::new(self.saga_id, self.step, self.direction)
    }

    /// This attempt's trace context: the saga's trace id and the attempt's own span id, the one its
    /// `saga.step` span records as `span_id`. [`RemoteStep`](crate::RemoteStep) sends it as the
    /// command's `traceparent`; pass it on (e.g. as an HTTP `traceparent`) from steps of your own.
    /// It is also [`trace::current`](crate::trace::current) while the attempt runs.
    #[must_use]
    pub const fn trace(&self) -> &TraceContext {
        &self.trace
    }
}

/// A forward action of a saga.
///
/// On success the (possibly modified) `data` is recorded in the saga log before the next step starts; on
/// error the modifications are discarded, so an attempt never leaks half-made changes into the next one.
/// Use [`StepContext::idempotency_key`] to make the effect happen once.
#[async_trait]
pub trait Step<D: SagaData>: Send + Sync + 'static {
    /// Performs the action.
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError>;
}

/// Undoes a completed (or possibly completed) [`Step`].
///
/// Compensations run strictly in reverse order and must tolerate "nothing to undo": a step whose outcome
/// was unknown (it timed out or exhausted its retries) is compensated even though it may never have taken
/// effect.
#[async_trait]
pub trait Compensation<D: SagaData>: Send + Sync + 'static {
    /// Undoes the step's effect.
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError>;
}

#[async_trait]
impl<D: SagaData, S: Step<D> + ?Sized> Step<D> for Arc<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        (**self).execute(ctx, data).await
    }
}

#[async_trait]
impl<D: SagaData, C: Compensation<D> + ?Sized> Compensation<D> for Arc<C> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        (**self).compensate(ctx, data).await
    }
}

/// A boxed step is a step, so steps chosen at run time fit the builder:
/// `let s: Box<dyn Step<D>> = ...; builder.compensatable("x", s, undo)`.
#[async_trait]
impl<D: SagaData, S: Step<D> + ?Sized> Step<D> for Box<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        (**self).execute(ctx, data).await
    }
}

/// A boxed compensation is a compensation.
#[async_trait]
impl<D: SagaData, C: Compensation<D> + ?Sized> Compensation<D> for Box<C> {
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        (**self).compensate(ctx, data).await
    }
}

/// A [`Step`] made from an async closure that takes the data by value and returns the new data.
///
/// ```
/// use saga::{step_fn, StepContext, StepError};
/// let add_one = step_fn(|_ctx: StepContext, n: u32| async move { Ok::<_, StepError>(n + 1) });
/// # let _ = add_one;
/// ```
pub fn step_fn<D, F, Fut>(f: F) -> StepFn<D, F>
where
    D: SagaData,
    F: Fn(StepContext, D) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<D, StepError>> + Send + 'static,
{
    StepFn {
        f,
        _data: PhantomData,
    }
}

/// A [`Compensation`] made from an async closure that receives a copy of the data.
pub fn compensation_fn<D, F, Fut>(f: F) -> CompensationFn<D, F>
where
    D: SagaData,
    F: Fn(StepContext, D) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), StepError>> + Send + 'static,
{
    CompensationFn {
        f,
        _data: PhantomData,
    }
}

/// See [`step_fn`].
pub struct StepFn<D, F> {
    f: F,
    _data: PhantomData<fn() -> D>,
}

impl<D, F> fmt::Debug for StepFn<D, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepFn")
    }
}

#[async_trait]
impl<D, F, Fut> Step<D> for StepFn<D, F>
where
    D: SagaData,
    F: Fn(StepContext, D) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<D, StepError>> + Send + 'static,
{
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        *data = (self.f)(ctx.clone(), data.clone()).await?;
        Ok(())
    }
}

/// See [`compensation_fn`].
pub struct CompensationFn<D, F> {
    f: F,
    _data: PhantomData<fn() -> D>,
}

impl<D, F> fmt::Debug for CompensationFn<D, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompensationFn")
    }
}

#[async_trait]
impl<D, F, Fut> Compensation<D> for CompensationFn<D, F>
where
    D: SagaData,
    F: Fn(StepContext, D) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), StepError>> + Send + 'static,
{
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        (self.f)(ctx.clone(), data.clone()).await
    }
}
