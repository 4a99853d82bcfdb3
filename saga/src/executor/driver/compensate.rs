//! One attempt of a compensation, and what its result makes of the saga.

use std::sync::Arc;

use tracing::{info_span, warn, Instrument};

use super::super::replay::Phase;
use super::super::Inner;
use super::attempt::limited;
use super::Driver;
use crate::id::Direction;
use crate::log::{LogEvent, SagaState};
use crate::step::{SagaData, StepContext};
use crate::trace::{self, TraceContext};
use crate::Error;

impl<D: SagaData> Driver<D> {
    /// Runs attempt `attempt` of step `step`'s compensation and records what came of it.
    pub(super) async fn compensate(
        &mut self,
        inner: &Inner<D>,
        step: usize,
        attempt: u32,
        saga: &TraceContext,
    ) -> Result<(), Error> {
        let sd = &inner.def.steps[step];
        let Some(compensation) = &sd.compensation else {
            return Err(Error::InconsistentLog {
                saga_id: self.id,
                message: format!("step {} has no compensation", sd.name),
            });
        };
        let step_u32 = u32::try_from(step).unwrap_or(u32::MAX);
        let ctx = StepContext::new(
            self.id,
            step_u32,
            Arc::clone(&sd.name),
            Direction::Compensate,
            attempt,
        )
        .with_trace(saga.child());
        let span = info_span!(
            "saga.step", saga_id = %self.id, step = %sd.name, direction = "compensate", attempt,
            trace_id = %saga.trace_id(), span_id = %ctx.trace().span_id(),
            parent_span_id = %saga.span_id(),
        );
        let run = trace::scope(
            ctx.trace().clone(),
            compensation.compensate(&ctx, &self.data),
        );
        let error = match limited(run, sd.timeout, None).instrument(span).await {
            Ok(()) => {
                let done = LogEvent::CompensationCompleted {
                    step: step_u32,
                    attempt,
                };
                if step == 0 {
                    self.append(SagaState::Compensated, &[done, LogEvent::Compensated])
                        .await?;
                    self.enter(Phase::Done(SagaState::Compensated));
                } else {
                    self.append(SagaState::Compensating, &[done]).await?;
                    self.phase = Phase::Compensating {
                        remaining: step,
                        attempt: 1,
                    };
                }
                return Ok(());
            }
            Err(error) => error,
        };
        let policy = &sd.compensation_retry;
        if !self
            .retry(
                inner,
                step,
                Direction::Compensate,
                attempt,
                &error,
                policy,
                false,
            )
            .await?
        {
            let message = error.message();
            warn!(step = %sd.name, error = %message, "compensation gave up, saga stuck");
            self.stuck(step, Direction::Compensate, message).await?;
        }
        Ok(())
    }
}
