//! A [`LogEvent`] as the flat columns adapters store, and back.

use bytes::Bytes;

use super::event::{AbortReason, LogEvent};
use crate::id::Direction;

/// A flat view of a [`LogEvent`] for storage in columns; see [`LogEvent::to_parts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EventParts {
    /// Stable event kind, e.g. `"step_completed"` (at most 32 bytes).
    pub kind: &'static str,
    /// Step index or step count, where the kind has one.
    pub step: Option<u32>,
    /// Attempt, where the kind has one.
    pub attempt: Option<u32>,
    /// Error message, operator note or abort reason.
    pub detail: Option<String>,
    /// Encoded saga data.
    pub payload: Option<Bytes>,
}

/// Returned by [`LogEvent::from_parts`] for a row that does not describe an event.
#[derive(Debug, Clone, thiserror::Error)]
#[error("malformed log event of kind {kind:?}: {problem}")]
pub struct MalformedEvent {
    kind: String,
    problem: &'static str,
}

impl LogEvent {
    /// Splits the event into columns.
    #[must_use]
    pub fn to_parts(&self) -> EventParts {
        let mut p = EventParts {
            kind: self.kind(),
            ..EventParts::default()
        };
        match self {
            Self::Started { data } => p.payload = Some(data.clone()),
            Self::StepCompleted {
                step,
                attempt,
                data,
            } => {
                p.step = Some(*step);
                p.attempt = Some(*attempt);
                p.payload = Some(data.clone());
            }
            Self::StepRetrying {
                step,
                attempt,
                error,
            }
            | Self::StepRefused {
                step,
                attempt,
                error,
            }
            | Self::StepUnknown {
                step,
                attempt,
                error,
            }
            | Self::CompensationRetrying {
                step,
                attempt,
                error,
            } => {
                p.step = Some(*step);
                p.attempt = Some(*attempt);
                p.detail = Some(error.clone());
            }
            Self::Aborted { reason, steps } => {
                p.step = Some(*steps);
                p.detail = Some(
                    match reason {
                        AbortReason::Cancelled => "cancelled",
                        AbortReason::DeadlineExceeded => "deadline_exceeded",
                    }
                    .to_owned(),
                );
            }
            Self::CompensationCompleted { step, attempt } => {
                p.step = Some(*step);
                p.attempt = Some(*attempt);
            }
            Self::Stuck { step, error, .. } => {
                p.step = Some(*step);
                p.detail = Some(error.clone());
            }
            Self::OperatorResolved { note } => p.detail = Some(note.clone()),
            Self::OperatorRetried | Self::Completed | Self::Compensated => {}
        }
        p
    }

    /// Rebuilds an event from columns written by [`to_parts`](Self::to_parts).
    ///
    /// # Errors
    /// [`MalformedEvent`] if the kind is unknown or a field the kind needs is missing.
    pub fn from_parts(
        kind: &str,
        step: Option<u32>,
        attempt: Option<u32>,
        detail: Option<String>,
        payload: Option<Bytes>,
    ) -> Result<Self, MalformedEvent> {
        let bad = |problem| MalformedEvent {
            kind: kind.chars().take(32).collect(),
            problem,
        };
        let step_ = || step.ok_or_else(|| bad("missing step"));
        let attempt_ = || attempt.ok_or_else(|| bad("missing attempt"));
        let detail_ = || detail.clone().ok_or_else(|| bad("missing detail"));
        let payload_ = || payload.clone().ok_or_else(|| bad("missing payload"));
        Ok(match kind {
            "started" => Self::Started { data: payload_()? },
            "step_completed" => Self::StepCompleted {
                step: step_()?,
                attempt: attempt_()?,
                data: payload_()?,
            },
            "step_retrying" => Self::StepRetrying {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            "step_refused" => Self::StepRefused {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            "step_unknown" => Self::StepUnknown {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            "aborted" => Self::Aborted {
                steps: step_()?,
                reason: match detail_()?.as_str() {
                    "cancelled" => AbortReason::Cancelled,
                    "deadline_exceeded" => AbortReason::DeadlineExceeded,
                    _ => return Err(bad("unknown abort reason")),
                },
            },
            "compensation_completed" => Self::CompensationCompleted {
                step: step_()?,
                attempt: attempt_()?,
            },
            "compensation_retrying" => Self::CompensationRetrying {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            "stuck_forward" | "stuck_compensating" => Self::Stuck {
                step: step_()?,
                direction: if kind == "stuck_forward" {
                    Direction::Forward
                } else {
                    Direction::Compensate
                },
                error: detail_()?,
            },
            "operator_retried" => Self::OperatorRetried,
            "operator_resolved" => Self::OperatorResolved { note: detail_()? },
            "completed" => Self::Completed,
            "compensated" => Self::Compensated,
            _ => return Err(bad("unknown kind")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_parts() {
        let events = vec![
            LogEvent::Started {
                data: Bytes::from_static(b"{}"),
            },
            LogEvent::StepCompleted {
                step: 1,
                attempt: 2,
                data: Bytes::from_static(b"1"),
            },
            LogEvent::StepRetrying {
                step: 1,
                attempt: 1,
                error: "e".into(),
            },
            LogEvent::StepRefused {
                step: 2,
                attempt: 1,
                error: "no".into(),
            },
            LogEvent::StepUnknown {
                step: 2,
                attempt: 3,
                error: "timeout".into(),
            },
            LogEvent::Aborted {
                reason: AbortReason::DeadlineExceeded,
                steps: 2,
            },
            LogEvent::CompensationCompleted {
                step: 0,
                attempt: 1,
            },
            LogEvent::CompensationRetrying {
                step: 0,
                attempt: 1,
                error: "x".into(),
            },
            LogEvent::Stuck {
                step: 0,
                direction: Direction::Compensate,
                error: "gave up".into(),
            },
            LogEvent::OperatorRetried,
            LogEvent::OperatorResolved { note: "ok".into() },
            LogEvent::Completed,
            LogEvent::Compensated,
        ];
        for e in events {
            let p = e.to_parts();
            let back = LogEvent::from_parts(p.kind, p.step, p.attempt, p.detail, p.payload)
                .expect("round trip");
            assert_eq!(back, e);
        }
        assert!(LogEvent::from_parts("nope", None, None, None, None).is_err());
        assert!(LogEvent::from_parts("step_completed", Some(1), None, None, None).is_err());
    }
}
