//! A [`LogEvent`] as the flat columns adapters store, and back.

use bytes::Bytes;

use super::event::{AbortReason, LogEvent};
use super::kind::EventKind;
use crate::id::Direction;

/// A flat view of a [`LogEvent`] for storage in columns: [`LogEvent::to_parts`] gives one, and
/// [`LogEvent::from_parts`] takes one back. Store `kind` as [`EventKind::as_str`] and parse it back
/// with [`str::parse`].
///
/// ```
/// use saga::log::{EventKind, EventParts, LogEvent};
/// let stored = LogEvent::Stuck { step: 2, direction: saga::Direction::Forward, error: "gave up".into() };
/// let p = stored.to_parts();
/// // ... columns written and read back ...
/// let kind: EventKind = p.kind.as_str().parse().expect("a known kind");
/// let row = EventParts::new(kind).with_step(p.step).with_detail(p.detail);
/// assert_eq!(LogEvent::from_parts(row).expect("well formed"), stored);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventParts {
    /// The event kind.
    pub kind: EventKind,
    /// Step index or step count, where the kind has one.
    pub step: Option<u32>,
    /// Attempt, where the kind has one.
    pub attempt: Option<u32>,
    /// Error message, operator note or abort reason.
    pub detail: Option<String>,
    /// Encoded saga data.
    pub payload: Option<Bytes>,
}

impl EventParts {
    /// Parts of `kind` with no fields set.
    #[must_use]
    pub const fn new(kind: EventKind) -> Self {
        Self {
            kind,
            step: None,
            attempt: None,
            detail: None,
            payload: None,
        }
    }

    /// Sets the step column.
    #[must_use]
    pub const fn with_step(mut self, step: Option<u32>) -> Self {
        self.step = step;
        self
    }

    /// Sets the attempt column.
    #[must_use]
    pub const fn with_attempt(mut self, attempt: Option<u32>) -> Self {
        self.attempt = attempt;
        self
    }

    /// Sets the detail column.
    #[must_use]
    pub fn with_detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    /// Sets the payload column.
    #[must_use]
    pub fn with_payload(mut self, payload: Option<Bytes>) -> Self {
        self.payload = payload;
        self
    }
}

/// Returned by [`LogEvent::from_parts`] (and by parsing an [`EventKind`]) for a row that does not
/// describe an event.
#[derive(Debug, Clone, thiserror::Error)]
#[error("malformed log event of kind {kind:?}: {problem}")]
pub struct MalformedEvent {
    kind: String,
    problem: &'static str,
}

impl MalformedEvent {
    /// `kind` is cut to 32 characters: it came from storage.
    pub(crate) fn new(kind: &str, problem: &'static str) -> Self {
        Self {
            kind: kind.chars().take(32).collect(),
            problem,
        }
    }
}

impl LogEvent {
    /// Splits the event into columns.
    #[must_use]
    pub fn to_parts(&self) -> EventParts {
        let mut p = EventParts::new(self.kind());
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
                p.detail = Some(reason.as_str().to_owned());
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

    /// Rebuilds an event from the parts [`to_parts`](Self::to_parts) gave.
    ///
    /// # Errors
    /// [`MalformedEvent`] if the kind is unknown or a field the kind needs is missing.
    pub fn from_parts(parts: EventParts) -> Result<Self, MalformedEvent> {
        let EventParts {
            kind,
            step,
            attempt,
            detail,
            payload,
        } = parts;
        let bad = |problem| MalformedEvent::new(kind.as_str(), problem);
        let step_ = || step.ok_or_else(|| bad("missing step"));
        let attempt_ = || attempt.ok_or_else(|| bad("missing attempt"));
        let detail_ = || detail.clone().ok_or_else(|| bad("missing detail"));
        let payload_ = || payload.clone().ok_or_else(|| bad("missing payload"));
        Ok(match kind {
            EventKind::Started => Self::Started { data: payload_()? },
            EventKind::StepCompleted => Self::StepCompleted {
                step: step_()?,
                attempt: attempt_()?,
                data: payload_()?,
            },
            EventKind::StepRetrying => Self::StepRetrying {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            EventKind::StepRefused => Self::StepRefused {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            EventKind::StepUnknown => Self::StepUnknown {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            EventKind::Aborted => Self::Aborted {
                steps: step_()?,
                reason: match detail_()?.as_str() {
                    "cancelled" => AbortReason::Cancelled,
                    "deadline_exceeded" => AbortReason::DeadlineExceeded,
                    _ => return Err(bad("unknown abort reason")),
                },
            },
            EventKind::CompensationCompleted => Self::CompensationCompleted {
                step: step_()?,
                attempt: attempt_()?,
            },
            EventKind::CompensationRetrying => Self::CompensationRetrying {
                step: step_()?,
                attempt: attempt_()?,
                error: detail_()?,
            },
            EventKind::StuckForward | EventKind::StuckCompensating => Self::Stuck {
                step: step_()?,
                direction: if kind == EventKind::StuckForward {
                    Direction::Forward
                } else {
                    Direction::Compensate
                },
                error: detail_()?,
            },
            EventKind::OperatorRetried => Self::OperatorRetried,
            EventKind::OperatorResolved => Self::OperatorResolved { note: detail_()? },
            EventKind::Completed => Self::Completed,
            EventKind::Compensated => Self::Compensated,
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
            let back = LogEvent::from_parts(p).expect("round trip");
            assert_eq!(back, e);
        }
        let no_attempt = EventParts::new(EventKind::StepCompleted).with_step(Some(1));
        assert!(LogEvent::from_parts(no_attempt).is_err());
    }
}
