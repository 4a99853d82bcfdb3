//! The kind of a log event: what `status` history entries are, and the stable name adapters store.

use std::fmt;
use std::str::FromStr;

use super::columns::MalformedEvent;
use super::event::LogEvent;
use crate::id::Direction;

/// What kind of transition a [`LogEvent`] is, without its data: the `event` of a history entry, and
/// (as [`as_str`](Self::as_str)) the stable name adapters store in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// [`LogEvent::Started`].
    Started,
    /// [`LogEvent::StepCompleted`].
    StepCompleted,
    /// [`LogEvent::StepRetrying`].
    StepRetrying,
    /// [`LogEvent::StepRefused`].
    StepRefused,
    /// [`LogEvent::StepUnknown`].
    StepUnknown,
    /// [`LogEvent::Aborted`].
    Aborted,
    /// [`LogEvent::CompensationCompleted`].
    CompensationCompleted,
    /// [`LogEvent::CompensationRetrying`].
    CompensationRetrying,
    /// [`LogEvent::Stuck`] with [`Direction::Forward`].
    StuckForward,
    /// [`LogEvent::Stuck`] with [`Direction::Compensate`].
    StuckCompensating,
    /// [`LogEvent::OperatorRetried`].
    OperatorRetried,
    /// [`LogEvent::OperatorResolved`].
    OperatorResolved,
    /// [`LogEvent::Completed`].
    Completed,
    /// [`LogEvent::Compensated`].
    Compensated,
}

impl EventKind {
    /// Every kind, for adapters that map them.
    pub const ALL: [Self; 14] = [
        Self::Started,
        Self::StepCompleted,
        Self::StepRetrying,
        Self::StepRefused,
        Self::StepUnknown,
        Self::Aborted,
        Self::CompensationCompleted,
        Self::CompensationRetrying,
        Self::StuckForward,
        Self::StuckCompensating,
        Self::OperatorRetried,
        Self::OperatorResolved,
        Self::Completed,
        Self::Compensated,
    ];

    /// The stable name stored by adapters, e.g. `"step_completed"` (at most 32 bytes).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::StepCompleted => "step_completed",
            Self::StepRetrying => "step_retrying",
            Self::StepRefused => "step_refused",
            Self::StepUnknown => "step_unknown",
            Self::Aborted => "aborted",
            Self::CompensationCompleted => "compensation_completed",
            Self::CompensationRetrying => "compensation_retrying",
            Self::StuckForward => "stuck_forward",
            Self::StuckCompensating => "stuck_compensating",
            Self::OperatorRetried => "operator_retried",
            Self::OperatorResolved => "operator_resolved",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
        }
    }

    /// Whether events of this kind name one step (all but the saga-wide ones and `aborted`, whose
    /// count of steps to compensate is not a step index).
    #[must_use]
    pub const fn names_a_step(self) -> bool {
        !matches!(
            self,
            Self::Started
                | Self::Aborted
                | Self::OperatorRetried
                | Self::OperatorResolved
                | Self::Completed
                | Self::Compensated
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = MalformedEvent;

    /// Parses a stored name; an unknown one is a [`MalformedEvent`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| MalformedEvent::new(s, "unknown kind"))
    }
}

impl LogEvent {
    /// The event's kind.
    #[must_use]
    pub const fn kind(&self) -> EventKind {
        match self {
            Self::Started { .. } => EventKind::Started,
            Self::StepCompleted { .. } => EventKind::StepCompleted,
            Self::StepRetrying { .. } => EventKind::StepRetrying,
            Self::StepRefused { .. } => EventKind::StepRefused,
            Self::StepUnknown { .. } => EventKind::StepUnknown,
            Self::Aborted { .. } => EventKind::Aborted,
            Self::CompensationCompleted { .. } => EventKind::CompensationCompleted,
            Self::CompensationRetrying { .. } => EventKind::CompensationRetrying,
            Self::Stuck {
                direction: Direction::Forward,
                ..
            } => EventKind::StuckForward,
            Self::Stuck {
                direction: Direction::Compensate,
                ..
            } => EventKind::StuckCompensating,
            Self::OperatorRetried => EventKind::OperatorRetried,
            Self::OperatorResolved { .. } => EventKind::OperatorResolved,
            Self::Completed => EventKind::Completed,
            Self::Compensated => EventKind::Compensated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_names() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().expect("known"), k);
            assert!(k.as_str().len() <= 32);
        }
        assert!("exploded".parse::<EventKind>().is_err());
    }
}
