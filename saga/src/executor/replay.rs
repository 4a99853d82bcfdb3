//! Rebuilding a saga's position from its log records.

use bytes::Bytes;

use super::outcome::Cause;
use crate::id::{Direction, SagaId};
use crate::log::{LogEvent, LogRecord, SagaState};
use crate::Error;

/// Where a saga is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// About to run (or re-run) `step`'s action, attempt `attempt`.
    Forward { step: usize, attempt: u32 },
    /// Steps `[0, remaining)` still need compensating; the next is `remaining - 1`.
    Compensating { remaining: usize, attempt: u32 },
    /// Parked; `resume` is where an operator retry continues.
    Stuck { step: usize, direction: Direction },
    /// Terminal.
    Done(SagaState),
}

impl Phase {
    pub(crate) fn state(self) -> SagaState {
        match self {
            Self::Forward { .. } => SagaState::Running,
            Self::Compensating { .. } => SagaState::Compensating,
            Self::Stuck { .. } => SagaState::Stuck,
            Self::Done(s) => s,
        }
    }

    /// The step being worked on, and in which direction.
    pub(crate) fn current(self, steps: usize) -> Option<(usize, Direction)> {
        match self {
            Self::Forward { step, .. } if step < steps => Some((step, Direction::Forward)),
            Self::Compensating { remaining, .. } if remaining > 0 => {
                Some((remaining - 1, Direction::Compensate))
            }
            Self::Stuck { step, direction } => Some((step, direction)),
            _ => None,
        }
    }
}

/// The replayed position, with the data of the last completed step (still encoded).
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) phase: Phase,
    pub(crate) data: Bytes,
    pub(crate) version: u64,
    /// What took the saga off its forward path, for outcomes.
    pub(crate) cause: Option<Cause>,
}

/// Replays records; `steps` is the definition's length and `commit_point` the index of its first step
/// without a compensation (`steps` if every step has one), used to validate what the records say.
///
/// Nothing stored is trusted: a step index out of range, an attempt with no successor, a count of
/// steps to compensate that includes a step without a compensation, or a record that cannot follow the
/// one before is an [`Error::InconsistentLog`] for this saga, never a panic or a wrapped number.
pub(crate) fn replay(
    id: SagaId,
    records: &[LogRecord],
    steps: usize,
    commit_point: usize,
) -> Result<Replayed, Error> {
    let bad = |message: String| Error::InconsistentLog {
        saga_id: id,
        message,
    };
    let next_attempt = |seq: u64, attempt: u32| {
        attempt
            .checked_add(1)
            .ok_or_else(|| bad(format!("record {seq} has attempt {attempt}, out of range")))
    };
    // Compensating `n` steps needs a compensation for each of them.
    let compensating = |seq: u64, remaining: usize| {
        if remaining <= commit_point {
            Ok(Phase::Compensating {
                remaining,
                attempt: 1,
            })
        } else {
            Err(bad(format!(
                "record {seq} compensates {remaining} steps, but only {commit_point} have a compensation"
            )))
        }
    };
    let mut phase = None;
    let mut data = Bytes::new();
    let mut version = 0;
    let mut cause = None;
    for record in records {
        version = record.seq;
        let at = match phase {
            Some(Phase::Forward { step, .. }) => step,
            _ => 0,
        };
        Cause::note(&mut cause, &record.event, at, steps);
        let check = |step: u32| {
            let s = step as usize;
            if s < steps {
                Ok(s)
            } else {
                Err(bad(format!(
                    "record {} names step {step} of a {steps}-step definition",
                    record.seq
                )))
            }
        };
        phase = Some(match (&record.event, phase) {
            (LogEvent::Started { data: d }, None) => {
                data = d.clone();
                Phase::Forward {
                    step: 0,
                    attempt: 1,
                }
            }
            (LogEvent::StepCompleted { step, data: d, .. }, Some(Phase::Forward { .. })) => {
                data = d.clone();
                Phase::Forward {
                    step: check(*step)? + 1,
                    attempt: 1,
                }
            }
            (LogEvent::StepRetrying { step, attempt, .. }, Some(Phase::Forward { .. })) => {
                Phase::Forward {
                    step: check(*step)?,
                    attempt: next_attempt(record.seq, *attempt)?,
                }
            }
            (LogEvent::StepRefused { step, .. }, Some(Phase::Forward { .. })) => {
                compensating(record.seq, check(*step)?)?
            }
            (LogEvent::StepUnknown { step, .. }, Some(Phase::Forward { .. })) => {
                compensating(record.seq, check(*step)? + 1)?
            }
            (LogEvent::Aborted { steps: n, .. }, Some(Phase::Forward { .. })) => {
                let n = *n as usize;
                if n > steps {
                    return Err(bad(format!("abort of {n} steps in a {steps}-step saga")));
                }
                compensating(record.seq, n)?
            }
            (LogEvent::CompensationCompleted { step, .. }, Some(Phase::Compensating { .. })) => {
                compensating(record.seq, check(*step)?)?
            }
            (
                LogEvent::CompensationRetrying { step, attempt, .. },
                Some(Phase::Compensating { .. }),
            ) => {
                compensating(record.seq, check(*step)? + 1)?;
                Phase::Compensating {
                    remaining: check(*step)? + 1,
                    attempt: next_attempt(record.seq, *attempt)?,
                }
            }
            (
                LogEvent::Stuck {
                    step, direction, ..
                },
                Some(Phase::Forward { .. } | Phase::Compensating { .. }),
            ) => {
                if *direction == Direction::Compensate {
                    compensating(record.seq, check(*step)? + 1)?;
                }
                Phase::Stuck {
                    step: check(*step)?,
                    direction: *direction,
                }
            }
            (LogEvent::OperatorRetried, Some(Phase::Stuck { step, direction })) => {
                match direction {
                    Direction::Forward => Phase::Forward { step, attempt: 1 },
                    Direction::Compensate => compensating(record.seq, step + 1)?,
                }
            }
            (LogEvent::OperatorResolved { .. }, Some(Phase::Stuck { .. })) => {
                Phase::Done(SagaState::Resolved)
            }
            (LogEvent::Completed, Some(Phase::Forward { step, .. })) if step == steps => {
                Phase::Done(SagaState::Completed)
            }
            (LogEvent::Compensated, Some(Phase::Compensating { remaining: 0, .. })) => {
                Phase::Done(SagaState::Compensated)
            }
            (event, phase) => {
                return Err(bad(format!(
                    "record {} ({}) cannot follow {phase:?}",
                    record.seq,
                    event.kind()
                )))
            }
        });
    }
    let phase = phase.ok_or_else(|| bad("no records".to_owned()))?;
    Ok(Replayed {
        phase,
        data,
        version,
        cause,
    })
}
