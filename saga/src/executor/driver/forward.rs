//! One attempt of a forward step, and what its result makes of the saga.

use std::sync::Arc;

use tracing::{debug, info_span, warn, Instrument};

use super::super::replay::Phase;
use super::super::Inner;
use super::attempt::{limited, AttemptError};
use super::Driver;
use crate::definition::StepKind;
use crate::id::Direction;
use crate::log::{AbortReason, LogEvent, SagaState};
use crate::step::{SagaData, StepContext};
use crate::trace::{self, TraceContext};
use crate::Error;

impl<D: SagaData> Driver<D> {
    /// Runs attempt `attempt` of forward step `step` and records what came of it.
    pub(super) async fn forward(
        &mut self,
        inner: &Inner<D>,
        step: usize,
        attempt: u32,
        saga: &TraceContext,
    ) -> Result<(), Error> {
        let def = &inner.def;
        let sd = &def.steps[step];
        let before_commit = step < def.commit_point;
        if before_commit {
            if let Some(reason) = self.abort_reason() {
                return self.abort(reason, step).await;
            }
        } else if !self.guard.control.commit() {
            // A cancel won the race against the point of no return.
            return self.abort(AbortReason::Cancelled, step).await;
        }

        let step_u32 = u32::try_from(step).unwrap_or(u32::MAX);
        let ctx = StepContext::new(
            self.id,
            step_u32,
            Arc::clone(&sd.name),
            Direction::Forward,
            attempt,
        )
        .with_trace(saga.child());
        let deadline = if before_commit { self.deadline } else { None };
        let mut work = self.data.clone();
        let span = info_span!(
            "saga.step", saga_id = %self.id, step = %sd.name, direction = "forward", attempt,
            trace_id = %saga.trace_id(), span_id = %ctx.trace().span_id(),
            parent_span_id = %saga.span_id(),
        );
        let run = trace::scope(ctx.trace().clone(), sd.action.execute(&ctx, &mut work));
        let result = limited(run, sd.timeout, deadline).instrument(span).await;
        self.in_doubt = true;

        let error = match result {
            Ok(()) => return self.completed(inner, step, attempt, work).await,
            Err(e) => e,
        };
        if self
            .retry(
                inner,
                step,
                Direction::Forward,
                attempt,
                &error,
                &sd.retry,
                before_commit,
            )
            .await?
        {
            return Ok(());
        }

        if matches!(error, AttemptError::DeadlineExceeded) {
            // The deadline only applies before the commit point, where every step is compensatable:
            // this one may have taken effect, so it is compensated too.
            return self.abort(AbortReason::DeadlineExceeded, step).await;
        }
        // Refused: the step had no effect. Unknown: it may have; compensate it too.
        let message = error.message();
        match (sd.kind, error.is_transient()) {
            (StepKind::Compensatable, true) => {
                warn!(step = %sd.name, error = %message, "step outcome unknown, compensating");
                let unknown = LogEvent::StepUnknown {
                    step: step_u32,
                    attempt,
                    error: message,
                };
                self.append_noted(SagaState::Compensating, &[unknown], step)
                    .await?;
                self.enter(Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                });
            }
            (StepKind::Compensatable | StepKind::Pivot, false) => {
                debug!(step = %sd.name, error = %message, "step refused, compensating");
                let refused = LogEvent::StepRefused {
                    step: step_u32,
                    attempt,
                    error: message,
                };
                self.append_noted(SagaState::Compensating, &[refused], step)
                    .await?;
                self.enter(Phase::Compensating {
                    remaining: step,
                    attempt: 1,
                });
            }
            _ => {
                warn!(step = %sd.name, error = %message, "step gave up past the pivot, saga stuck");
                self.stuck(step, Direction::Forward, message).await?;
            }
        }
        Ok(())
    }

    /// Records the completion of `step` with the data `work` it produced; the last step's completion
    /// completes the saga.
    async fn completed(
        &mut self,
        inner: &Inner<D>,
        step: usize,
        attempt: u32,
        work: D,
    ) -> Result<(), Error> {
        let data = inner.encode(self.id, &work)?;
        let completed = LogEvent::StepCompleted {
            step: u32::try_from(step).unwrap_or(u32::MAX),
            attempt,
            data,
        };
        if step + 1 == inner.def.steps.len() {
            // For a saga without pivot or retriable steps this is the point of no return: a cancel
            // that won the race compensates every step, this one included.
            if !self.guard.control.commit() {
                self.data = work;
                self.in_doubt = false;
                return self
                    .abort_after(AbortReason::Cancelled, step, step + 1, &[completed])
                    .await;
            }
            self.append(SagaState::Completed, &[completed, LogEvent::Completed])
                .await?;
            self.enter(Phase::Done(SagaState::Completed));
        } else {
            self.append(SagaState::Running, &[completed]).await?;
            self.phase = Phase::Forward {
                step: step + 1,
                attempt: 1,
            };
        }
        self.data = work;
        self.in_doubt = false;
        Ok(())
    }
}
