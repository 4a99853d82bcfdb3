//! How a saga ended (or parked), and what made it fail.

use std::fmt;

use crate::definition::SagaDefinition;
use crate::id::{Direction, SagaId};
use crate::log::{AbortReason, LogEvent, SagaState};

/// How a saga ended, or parked as stuck: what [`Executor::run`](crate::Executor::run),
/// [`SagaHandle::outcome`](crate::SagaHandle::outcome) and [`Executor::wait`](crate::Executor::wait)
/// return.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SagaOutcome<D> {
    /// The saga.
    pub id: SagaId,
    /// `Completed`, `Compensated`, `Stuck` or `Resolved`.
    pub state: SagaState,
    /// The saga data as of its last completed step.
    pub data: D,
    /// What took the saga off its forward path, if anything did (see [`SagaFailure`]).
    pub failure: Option<SagaFailure>,
}

impl<D> SagaOutcome<D> {
    /// `true` if every step completed.
    #[must_use]
    pub fn is_completed(&self) -> bool {
        self.state == SagaState::Completed
    }
}

/// What took a saga off its forward path: the step, and how and why it failed.
///
/// It is the *cause*: a saga whose compensation then got stuck keeps the failure that started the
/// compensation (the compensation's own error is in [`Executor::status`](crate::Executor::status)'s
/// history), and an operator [`retry`](crate::Executor::retry) keeps it too. A saga stuck going forward
/// (a pivot with an unknown outcome, a retriable step that gave up) reports its latest stuck step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SagaFailure {
    /// The step's index in the definition. For a cancel or a passed deadline, the step the saga was
    /// at (the last one when it had completed them all).
    pub step: u32,
    /// The step's name in the definition.
    pub step_name: String,
    /// How it failed.
    pub kind: FailureKind,
    /// The error, as recorded in the log.
    pub message: String,
}

impl fmt::Display for SagaFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.step_name, self.kind, self.message)
    }
}

/// How a [`SagaFailure`] came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The step failed permanently (the business said no); it had no effect.
    Refused,
    /// The step timed out or ran out of retries: it may or may not have taken effect.
    UnknownOutcome,
    /// The step could not finish and the saga is parked for an operator.
    Stuck,
    /// The saga deadline passed before the pivot.
    DeadlineExceeded,
    /// [`Executor::cancel`](crate::Executor::cancel) before the pivot.
    Cancelled,
}

impl FailureKind {
    /// `"refused"`, `"unknown_outcome"`, `"stuck"`, `"deadline_exceeded"` or `"cancelled"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::UnknownOutcome => "unknown_outcome",
            Self::Stuck => "stuck",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure without its step name; the driver and the replay of a log keep one by the same rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    step: u32,
    kind: FailureKind,
    message: String,
}

impl Cause {
    /// Takes `event` into account: `at` is the forward step the saga was at when it was recorded
    /// (an abort names no step), `steps` the definition's length.
    pub(crate) fn note(slot: &mut Option<Self>, event: &LogEvent, at: usize, steps: usize) {
        let cause = |step: &u32, kind, message: &str| Self {
            step: *step,
            kind,
            message: message.to_owned(),
        };
        match event {
            LogEvent::StepRefused { step, error, .. } => {
                *slot = Some(cause(step, FailureKind::Refused, error));
            }
            LogEvent::StepUnknown { step, error, .. } => {
                *slot = Some(cause(step, FailureKind::UnknownOutcome, error));
            }
            LogEvent::Aborted { reason, .. } => {
                let step = u32::try_from(at.min(steps.saturating_sub(1))).unwrap_or(u32::MAX);
                let (kind, message) = match reason {
                    AbortReason::Cancelled => (FailureKind::Cancelled, "saga cancelled"),
                    AbortReason::DeadlineExceeded => {
                        (FailureKind::DeadlineExceeded, "saga deadline exceeded")
                    }
                };
                *slot = Some(cause(&step, kind, message));
            }
            // A stuck compensation keeps the cause of the compensation.
            LogEvent::Stuck {
                direction: Direction::Compensate,
                ..
            } if slot.is_some() => {}
            LogEvent::Stuck { step, error, .. } => {
                *slot = Some(cause(step, FailureKind::Stuck, error));
            }
            _ => {}
        }
    }

    /// The public form, with the step's name from `def`.
    pub(crate) fn into_failure<D>(self, def: &SagaDefinition<D>) -> SagaFailure {
        SagaFailure {
            step_name: def
                .step_name(self.step)
                .map_or_else(|| format!("step {}", self.step), str::to_owned),
            step: self.step,
            kind: self.kind,
            message: self.message,
        }
    }
}
