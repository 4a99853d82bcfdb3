//! The loop that moves one saga from its current phase to a terminal (or stuck) state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info_span, warn, Instrument};

use super::control::Control;
use super::replay::Phase;
use super::Inner;
use crate::definition::StepKind;
use crate::id::{Direction, SagaId};
use crate::log::{AbortReason, Append, ConflictKind, Lease, LogError, LogEvent, SagaState};
use crate::step::{SagaData, StepContext, StepError};
use crate::trace::{self, TraceContext};
use crate::{Error, SagaOutcome};

/// Why an attempt did not succeed.
enum AttemptError {
    Step(StepError),
    TimedOut(Duration),
    DeadlineExceeded,
}

impl AttemptError {
    fn message(&self) -> String {
        match self {
            Self::Step(e) => e.to_string(),
            Self::TimedOut(t) => format!("attempt timed out after {t:?}"),
            Self::DeadlineExceeded => "saga deadline exceeded".to_owned(),
        }
    }
}

pub(crate) struct Driver<'a, D> {
    pub(crate) inner: &'a Inner<D>,
    pub(crate) id: SagaId,
    pub(crate) data: D,
    pub(crate) version: u64,
    pub(crate) lease: Lease,
    pub(crate) phase: Phase,
    /// The saga deadline on tokio's clock.
    pub(crate) deadline: Option<Instant>,
    /// After recovery, or after a failed attempt, the current forward step may have taken effect.
    pub(crate) in_doubt: bool,
    pub(crate) control: Arc<Control>,
    pub(crate) failure: Option<(usize, String)>,
}

impl<D: SagaData> Driver<'_, D> {
    /// Drives the saga until it is terminal or stuck.
    pub(crate) async fn drive(mut self) -> Result<SagaOutcome<D>, Error> {
        // The saga's trace id is derived from its id; each drive of it is a span of its own.
        let trace = TraceContext::for_saga(self.id);
        let span = info_span!(
            "saga", saga_id = %self.id, definition = %self.inner.def.name,
            trace_id = %trace.trace_id(), span_id = %trace.span_id(),
        );
        async move {
            let steps = self.inner.def.steps.len();
            loop {
                match self.phase {
                    Phase::Done(state) => return Ok(self.outcome(state)),
                    Phase::Stuck { .. } => return Ok(self.outcome(SagaState::Stuck)),
                    Phase::Forward { step, .. } if step >= steps => {
                        if !self.control.commit() {
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
                        self.forward(step, attempt, &trace).await?;
                    }
                    Phase::Compensating { remaining: 0, .. } => {
                        self.append(SagaState::Compensated, &[LogEvent::Compensated])
                            .await?;
                        self.enter(Phase::Done(SagaState::Compensated));
                    }
                    Phase::Compensating { remaining, attempt } => {
                        self.compensate(remaining - 1, attempt, &trace).await?;
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
        self.control.entered(phase);
    }

    fn outcome(self, state: SagaState) -> SagaOutcome<D> {
        debug!(%state, "saga finished");
        SagaOutcome {
            id: self.id,
            state,
            data: self.data,
            failure: self.failure,
        }
    }

    fn abort_reason(&self) -> Option<AbortReason> {
        if self.control.cancel_requested() {
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
        self.failure = Some((step, format!("{reason:?}")));
        let mut events = before.to_vec();
        events.push(LogEvent::Aborted {
            reason,
            steps: u32::try_from(steps).unwrap_or(u32::MAX),
        });
        self.append(SagaState::Compensating, &events).await?;
        self.enter(Phase::Compensating {
            remaining: steps,
            attempt: 1,
        });
        Ok(())
    }

    async fn forward(
        &mut self,
        step: usize,
        attempt: u32,
        saga: &TraceContext,
    ) -> Result<(), Error> {
        let inner = self.inner;
        let def = &inner.def;
        let sd = &def.steps[step];
        let before_commit = step < def.commit_point;
        if before_commit {
            if let Some(reason) = self.abort_reason() {
                return self.abort(reason, step).await;
            }
        } else if !self.control.commit() {
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
            Ok(()) => {
                let data = inner.encode(self.id, &work)?;
                let completed = LogEvent::StepCompleted {
                    step: step_u32,
                    attempt,
                    data,
                };
                if step + 1 == def.steps.len() {
                    // For a saga without pivot or retriable steps this is the point of no return:
                    // a cancel that won the race compensates every step, this one included.
                    if !self.control.commit() {
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
                return Ok(());
            }
            Err(e) => e,
        };

        let message = error.message();
        let (transient, retry_after) = match &error {
            AttemptError::Step(e) => (e.is_transient(), e.retry_after()),
            AttemptError::TimedOut(_) => (true, None),
            AttemptError::DeadlineExceeded => (false, None),
        };
        if transient && sd.retry.allows_attempt(attempt.saturating_add(1)) {
            warn!(step = %sd.name, attempt, error = %message, "step failed, retrying");
            self.append(
                SagaState::Running,
                &[LogEvent::StepRetrying {
                    step: step_u32,
                    attempt,
                    error: message,
                }],
            )
            .await?;
            self.phase = Phase::Forward {
                step,
                attempt: attempt.saturating_add(1),
            };
            let delay = sd.retry.delay_after(attempt, retry_after);
            self.backoff(delay, before_commit).await;
            return Ok(());
        }

        // Refused: the step had no effect. Unknown: it may have; compensate it too.
        let unknown = transient || matches!(error, AttemptError::DeadlineExceeded);
        self.failure = Some((step, message.clone()));
        match (sd.kind, unknown) {
            (StepKind::Compensatable, true) => {
                warn!(step = %sd.name, error = %message, "step outcome unknown, compensating");
                self.append(
                    SagaState::Compensating,
                    &[LogEvent::StepUnknown {
                        step: step_u32,
                        attempt,
                        error: message,
                    }],
                )
                .await?;
                self.enter(Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                });
            }
            (StepKind::Compensatable | StepKind::Pivot, false) => {
                debug!(step = %sd.name, error = %message, "step refused, compensating");
                self.append(
                    SagaState::Compensating,
                    &[LogEvent::StepRefused {
                        step: step_u32,
                        attempt,
                        error: message,
                    }],
                )
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

    async fn compensate(
        &mut self,
        step: usize,
        attempt: u32,
        saga: &TraceContext,
    ) -> Result<(), Error> {
        let inner = self.inner;
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
        let result = limited(run, sd.timeout, None).instrument(span).await;
        match result {
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
            }
            Err(error) => {
                let message = error.message();
                let (transient, retry_after) = match &error {
                    AttemptError::Step(e) => (e.is_transient(), e.retry_after()),
                    _ => (true, None),
                };
                if transient
                    && sd
                        .compensation_retry
                        .allows_attempt(attempt.saturating_add(1))
                {
                    warn!(step = %sd.name, attempt, error = %message, "compensation failed, retrying");
                    self.append(
                        SagaState::Compensating,
                        &[LogEvent::CompensationRetrying {
                            step: step_u32,
                            attempt,
                            error: message,
                        }],
                    )
                    .await?;
                    self.phase = Phase::Compensating {
                        remaining: step + 1,
                        attempt: attempt.saturating_add(1),
                    };
                    let delay = sd.compensation_retry.delay_after(attempt, retry_after);
                    self.backoff(delay, false).await;
                } else {
                    warn!(step = %sd.name, error = %message, "compensation gave up, saga stuck");
                    self.stuck(step, Direction::Compensate, message).await?;
                }
            }
        }
        Ok(())
    }

    async fn stuck(
        &mut self,
        step: usize,
        direction: Direction,
        error: String,
    ) -> Result<(), Error> {
        self.failure = Some((step, error.clone()));
        self.append(
            SagaState::Stuck,
            &[LogEvent::Stuck {
                step: u32::try_from(step).unwrap_or(u32::MAX),
                direction,
                error,
            }],
        )
        .await?;
        self.enter(Phase::Stuck { step, direction });
        Ok(())
    }

    /// Waits before a retry; before the pivot, a cancel or the deadline cuts the wait short.
    async fn backoff(&self, delay: Duration, interruptible: bool) {
        if delay.is_zero() {
            return;
        }
        if !interruptible {
            tokio::time::sleep(delay).await;
            return;
        }
        let until = Instant::now() + delay;
        let until = self.deadline.map_or(until, |d| until.min(d));
        tokio::select! {
            () = tokio::time::sleep_until(until) => {}
            () = self.control.cancelled() => {}
        }
    }

    /// Appends under the lease, retrying transient log errors. A retry that finds its own write already
    /// landed (the first try committed but its answer was lost) counts as success.
    async fn append(&mut self, state: SagaState, events: &[LogEvent]) -> Result<(), Error> {
        let inner = self.inner;
        let policy = inner.config.log_retry;
        let mut attempt = 1;
        let mut retried = false;
        loop {
            let append = Append::new(
                self.id,
                self.version,
                self.lease,
                state,
                events,
                inner.config.lease_ttl,
            );
            match inner.log.append(append).await {
                Ok(version) => {
                    self.version = version;
                    return Ok(());
                }
                Err(e) if e.is_transient() && policy.allows_attempt(attempt + 1) => {
                    warn!(error = %e, attempt, "saga log append failed, retrying");
                    tokio::time::sleep(policy.delay_after(attempt, None)).await;
                    attempt += 1;
                    retried = true;
                }
                Err(LogError::Conflict {
                    kind: ConflictKind::VersionMismatch,
                    ..
                }) if retried => {
                    if self.landed(events).await? {
                        return Ok(());
                    }
                    return Err(LogError::conflict(
                        self.id,
                        ConflictKind::VersionMismatch,
                        self.version,
                        None,
                    )
                    .into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn landed(&mut self, events: &[LogEvent]) -> Result<bool, Error> {
        let Some(snapshot) = self.inner.log.load(self.id).await? else {
            return Ok(false);
        };
        let n = events.len() as u64;
        let ours = snapshot.instance.fence == self.lease.fence
            && snapshot.instance.version == self.version + n
            && snapshot
                .records
                .iter()
                .rev()
                .take(events.len())
                .map(|r| &r.event)
                .eq(events.iter().rev());
        if ours {
            self.version = snapshot.instance.version;
        }
        Ok(ours)
    }
}

/// Runs an attempt under the step timeout and the saga deadline, whichever comes first.
async fn limited<F>(
    fut: F,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<(), AttemptError>
where
    F: Future<Output = Result<(), StepError>>,
{
    let timeout_at = timeout.map(|t| Instant::now() + t);
    let limit = match (timeout_at, deadline) {
        (None, None) => return fut.await.map_err(AttemptError::Step),
        (Some(t), None) => (t, false),
        (None, Some(d)) => (d, true),
        (Some(t), Some(d)) => {
            if d <= t {
                (d, true)
            } else {
                (t, false)
            }
        }
    };
    match tokio::time::timeout_at(limit.0, fut).await {
        Ok(r) => r.map_err(AttemptError::Step),
        Err(_) if limit.1 => Err(AttemptError::DeadlineExceeded),
        Err(_) => Err(AttemptError::TimedOut(timeout.unwrap_or_default())),
    }
}
