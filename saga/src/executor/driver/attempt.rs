//! One attempt of a step or compensation: its limits, how it failed, and the retry decision shared by
//! both directions.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::super::replay::Phase;
use super::super::Inner;
use super::Driver;
use crate::definition::RetryPolicy;
use crate::id::Direction;
use crate::log::{LogEvent, SagaState};
use crate::step::{SagaData, StepError};
use crate::Error;

/// Why an attempt did not succeed.
pub(super) enum AttemptError {
    Step(StepError),
    TimedOut(Duration),
    DeadlineExceeded,
}

impl AttemptError {
    pub(super) fn message(&self) -> String {
        match self {
            Self::Step(e) => e.to_string(),
            Self::TimedOut(t) => format!("attempt timed out after {t:?}"),
            Self::DeadlineExceeded => "saga deadline exceeded".to_owned(),
        }
    }

    /// Whether another attempt may succeed: a transient step error or a timed-out attempt.
    pub(super) fn is_transient(&self) -> bool {
        match self {
            Self::Step(e) => e.is_transient(),
            Self::TimedOut(_) => true,
            Self::DeadlineExceeded => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Step(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl<D: SagaData> Driver<D> {
    /// If `error` and `policy` allow another attempt of `step` in `direction`, records the failed one,
    /// moves to the next and waits its backoff (cut short by a cancel or the deadline when
    /// `interruptible`), and returns `true`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn retry(
        &mut self,
        inner: &Inner<D>,
        step: usize,
        direction: Direction,
        attempt: u32,
        error: &AttemptError,
        policy: &RetryPolicy,
        interruptible: bool,
    ) -> Result<bool, Error> {
        let next = attempt.saturating_add(1);
        if !error.is_transient() || !policy.allows_attempt(next) {
            return Ok(false);
        }
        let name = &inner.def.steps[step].name;
        let message = error.message();
        warn!(step = %name, %direction, attempt, error = %message, "attempt failed, retrying");
        let step_u32 = u32::try_from(step).unwrap_or(u32::MAX);
        let (state, event, phase) = match direction {
            Direction::Forward => (
                SagaState::Running,
                LogEvent::StepRetrying {
                    step: step_u32,
                    attempt,
                    error: message,
                },
                Phase::Forward {
                    step,
                    attempt: next,
                },
            ),
            Direction::Compensate => (
                SagaState::Compensating,
                LogEvent::CompensationRetrying {
                    step: step_u32,
                    attempt,
                    error: message,
                },
                Phase::Compensating {
                    remaining: step + 1,
                    attempt: next,
                },
            ),
        };
        self.append(state, &[event]).await?;
        self.phase = phase;
        let delay = policy.delay_after(attempt, error.retry_after());
        self.backoff(delay, interruptible).await;
        Ok(true)
    }

    /// Waits before a retry; when `interruptible` (before the pivot), a cancel or the deadline cuts the
    /// wait short.
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
            () = self.guard.control.cancelled() => {}
        }
    }
}

/// Runs an attempt under the step timeout and the saga deadline, whichever comes first.
pub(super) async fn limited<F>(
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
