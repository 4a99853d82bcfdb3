//! Scripted steps: a step (or compensation) that journals each call and then does what the test
//! told it to: succeed, fail transiently a number of times, refuse, hang, or wait at a gate.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Gate, Journal};
use crate::step::{Compensation, SagaData, Step, StepContext, StepError};

/// How a call ends once its transient failures are used up.
#[derive(Debug, Clone)]
enum End {
    Succeed,
    Refuse(Cow<'static, str>),
    Hang,
}

type Effect<D> = Arc<dyn Fn(&mut D) + Send + Sync>;

/// A [`Step`] and [`Compensation`] for tests, made by [`Journal::step`] or [`Journal::undo`]: each
/// call is recorded in the journal (name, idempotency key, attempt, outcome), passes the
/// [gate](Self::gated) if it has one, then fails transiently while the journal holds fewer than
/// [`fail_transiently`](Self::fail_transiently)'s `n` earlier calls with its idempotency key, and
/// ends as scripted: succeeds (the default, applying the [effect](Self::with_effect) to the data),
/// [refuses](Self::refuse) or [hangs](Self::hang).
///
/// Counting failures per idempotency key in the journal keeps the script the same across retries,
/// sagas, executors and recovery: "the first two calls of each execution fail".
#[must_use]
pub struct ScriptedStep<D> {
    journal: Journal,
    label: Option<Arc<str>>,
    transient: usize,
    end: End,
    gate: Option<Gate>,
    effect: Option<Effect<D>>,
    _data: PhantomData<fn(&mut D)>,
}

impl<D> Clone for ScriptedStep<D> {
    fn clone(&self) -> Self {
        Self {
            journal: self.journal.clone(),
            label: self.label.clone(),
            transient: self.transient,
            end: self.end.clone(),
            gate: self.gate.clone(),
            effect: self.effect.clone(),
            _data: PhantomData,
        }
    }
}

impl<D> fmt::Debug for ScriptedStep<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedStep")
            .field("label", &self.label)
            .field("transient", &self.transient)
            .field("end", &self.end)
            .field("gate", &self.gate.is_some())
            .field("effect", &self.effect.is_some())
            .finish_non_exhaustive()
    }
}

impl<D> ScriptedStep<D> {
    pub(super) fn new(journal: Journal) -> Self {
        Self {
            journal,
            label: None,
            transient: 0,
            end: End::Succeed,
            gate: None,
            effect: None,
            _data: PhantomData,
        }
    }

    /// Journals calls under `label` instead of the step's name in the definition (to tell two
    /// definitions of one step apart).
    pub fn named(mut self, label: impl Into<Arc<str>>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The first `n` calls of each idempotency key fail with a transient error; later ones go on
    /// as scripted.
    pub fn fail_transiently(mut self, n: usize) -> Self {
        self.transient = n;
        self
    }

    /// Fails with a permanent error: the business refuses (after any transient failures).
    pub fn refuse(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.end = End::Refuse(message.into());
        self
    }

    /// Never returns (until the executor's timeout, deadline, cancel or abort drops the call, which
    /// the journal records as [`Interrupted`](super::CallOutcome::Interrupted)).
    pub fn hang(mut self) -> Self {
        self.end = End::Hang;
        self
    }

    /// Every call waits at `gate` (after it is journaled, before it does anything else) while the
    /// gate holds: the test awaits [`Gate::entered`], races its cancel, deadline or second executor
    /// against the call in flight, then [releases](Gate::release) it.
    pub fn gated(mut self, gate: &Gate) -> Self {
        self.gate = Some(gate.clone());
        self
    }

    /// What a successful action does to the saga data (by default nothing). Compensations get the
    /// data read-only and ignore it.
    pub fn with_effect(mut self, effect: impl Fn(&mut D) + Send + Sync + 'static) -> Self {
        self.effect = Some(Arc::new(effect));
        self
    }

    async fn call(&self, ctx: &StepContext) -> Result<(), StepError> {
        let name = self
            .label
            .clone()
            .unwrap_or_else(|| Arc::from(ctx.step_name()));
        let recording = self.journal.record_as(ctx, name);
        if let Some(gate) = &self.gate {
            gate.pass().await;
        }
        let result = if recording.earlier_calls() < self.transient {
            Err(StepError::transient(format!(
                "scripted transient failure {} of {}",
                recording.earlier_calls() + 1,
                self.transient
            )))
        } else {
            match &self.end {
                End::Succeed => Ok(()),
                End::Refuse(message) => Err(StepError::permanent(message.clone())),
                End::Hang => std::future::pending().await,
            }
        };
        recording.finish(&result);
        result
    }
}

#[async_trait]
impl<D: SagaData> Step<D> for ScriptedStep<D> {
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        self.call(ctx).await?;
        if let Some(effect) = &self.effect {
            effect(data);
        }
        Ok(())
    }
}

#[async_trait]
impl<D: SagaData> Compensation<D> for ScriptedStep<D> {
    async fn compensate(&self, ctx: &StepContext, _data: &D) -> Result<(), StepError> {
        self.call(ctx).await
    }
}
