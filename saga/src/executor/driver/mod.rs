//! The loop that moves one saga from its current phase to a terminal (or stuck) state.

mod append;
mod attempt;
mod compensate;
mod forward;

use std::sync::Arc;

use tokio::time::Instant;
use tracing::{debug, info_span, Instrument};

use super::control::Control;
use super::outcome::Cause;
use super::registry::RegistryGuard;
use super::replay::Phase;
use super::Inner;
use crate::id::{Direction, SagaId};
use crate::log::{AbortReason, Lease, LogEvent, SagaState};
use crate::step::SagaData;
use crate::trace::TraceContext;
use crate::{Error, SagaOutcome};

/// One saga being driven: the executor's shared state, the saga's slot in the registry (released when
/// the driver is dropped, whatever becomes of it), and where the saga is.
pub(crate) struct Driver<D> {
    pub(crate) inner: Arc<Inner<D>>,
    pub(crate) guard: RegistryGuard,
    pub(crate) id: SagaId,
    pub(crate) data: D,
    pub(crate) version: u64,
    pub(crate) lease: Lease,
    pub(crate) phase: Phase,
    /// The saga deadline on tokio's clock.
    pub(crate) deadline: Option<Instant>,
    /// After recovery, or after a failed attempt, the current forward step may have taken effect.
    pub(crate) in_doubt: bool,
    /// What took the saga off its forward path so far.
    pub(crate) failure: Option<Cause>,
}

impl<D: SagaData> Driver<D> {
    /// The control block `cancel` talks to.
    pub(crate) fn control(&self) -> Arc<Control> {
        Arc::clone(&self.guard.control)
    }

    /// Drives the saga until it is terminal or stuck.
    pub(crate) async fn drive(mut self) -> Result<SagaOutcome<D>, Error> {
        // The saga's trace id is derived from its id; each drive of it is a span of its own.
        let trace = TraceContext::for_saga(self.id);
        let span = info_span!(
            "saga", saga_id = %self.id, definition = %self.inner.def.name,
            trace_id = %trace.trace_id(), span_id = %trace.span_id(),
        );
        // Steps borrow their definition while the driver records their results.
        let inner = Arc::clone(&self.inner);
        async move {
            let steps = inner.def.steps.len();
            loop {
                match self.phase {
                    Phase::Done(state) => return Ok(self.outcome(state)),
                    Phase::Stuck { .. } => return Ok(self.outcome(SagaState::Stuck)),
                    Phase::Forward { step, .. } if step >= steps => {
                        if !self.guard.control.commit() {
                            // A pivotless saga whose last completion was recorded alone (by an
                            // older version): a cancel that got in first still compensates it.
                            self.abort(AbortReason::Cancelled, steps).await?;
                            continue;
                        }
                        self.append(SagaState::Completed, &[LogEvent::Completed])
                            .await?;
                        self.enter(Phase::Done(SagaState::Completed));
                    }
                    Phase::Forward { step, attempt } => {
                        self.forward(&inner, step, attempt, &trace).await?;
                    }
                    Phase::Compensating { remaining: 0, .. } => {
                        self.append(SagaState::Compensated, &[LogEvent::Compensated])
                            .await?;
                        self.enter(Phase::Done(SagaState::Compensated));
                    }
                    Phase::Compensating { remaining, attempt } => {
                        self.compensate(&inner, remaining - 1, attempt, &trace)
                            .await?;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Moves to `phase`, and tells `cancel` (through the control block) where the saga is now.
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.guard.control.entered(phase);
    }

    /// How the saga ended; everyone [`wait`](super::Executor::wait)ing on it is told.
    fn outcome(self, state: SagaState) -> SagaOutcome<D> {
        debug!(%state, "saga finished");
        let outcome = SagaOutcome {
            id: self.id,
            state,
            data: self.data,
            failure: self.failure.map(|c| c.into_failure(&self.inner.def)),
        };
        self.inner.waiters.publish(&outcome);
        outcome
    }

    /// Appends `events`, each of which [`Cause::note`] takes into account with the saga at forward
    /// step `at`.
    async fn append_noted(
        &mut self,
        state: SagaState,
        events: &[LogEvent],
        at: usize,
    ) -> Result<(), Error> {
        let steps = self.inner.def.steps.len();
        for event in events {
            Cause::note(&mut self.failure, event, at, steps);
        }
        self.append(state, events).await
    }

    fn abort_reason(&self) -> Option<AbortReason> {
        if self.guard.control.cancel_requested() {
            Some(AbortReason::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(AbortReason::DeadlineExceeded)
        } else {
            None
        }
    }

    /// Compensates the steps before `step`, and `step` itself if it may have run.
    async fn abort(&mut self, reason: AbortReason, step: usize) -> Result<(), Error> {
        let steps = step + usize::from(self.in_doubt && step < self.inner.def.steps.len());
        self.abort_after(reason, step, steps, &[]).await
    }

    /// Records `before` (e.g. the completion of the step that just ran) and an abort that compensates
    /// the first `steps` steps. Only steps with a compensation can be aborted: the control block
    /// refuses a cancel once a step without one may have started.
    async fn abort_after(
        &mut self,
        reason: AbortReason,
        step: usize,
        steps: usize,
        before: &[LogEvent],
    ) -> Result<(), Error> {
        if steps > self.inner.def.commit_point {
            return Err(Error::InconsistentLog {
                saga_id: self.id,
                message: format!("an abort may not compensate {steps} steps (past the pivot)"),
            });
        }
        debug!(?reason, steps, "saga aborted before the commit point");
        let mut events = before.to_vec();
        events.push(LogEvent::Aborted {
            reason,
            steps: u32::try_from(steps).unwrap_or(u32::MAX),
        });
        self.append_noted(SagaState::Compensating, &events, step)
            .await?;
        self.enter(Phase::Compensating {
            remaining: steps,
            attempt: 1,
        });
        Ok(())
    }

    /// Parks the saga for an operator: `step` gave up in `direction`.
    async fn stuck(
        &mut self,
        step: usize,
        direction: Direction,
        error: String,
    ) -> Result<(), Error> {
        let stuck = LogEvent::Stuck {
            step: u32::try_from(step).unwrap_or(u32::MAX),
            direction,
            error,
        };
        self.append_noted(SagaState::Stuck, &[stuck], step).await?;
        self.enter(Phase::Stuck { step, direction });
        Ok(())
    }
}
