//! The state of a saga instance and its stable text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a saga instance, as stored in the log and reported by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SagaState {
    /// Moving forward.
    Running,
    /// Undoing completed steps in reverse order.
    Compensating,
    /// Parked for an operator: a compensation (or a retriable/pivot step) ran out of retries.
    /// Durable; never silently treated as failed. See `Executor::retry` and `Executor::resolve`.
    Stuck,
    /// Every step completed.
    Completed,
    /// Every started step was compensated (the seed's FAILED).
    Compensated,
    /// An operator marked a stuck saga as resolved by hand.
    Resolved,
}

impl SagaState {
    /// Completed, Compensated and Resolved never change again.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated | Self::Resolved)
    }

    /// The stable text form used in SQL columns and Redis keys.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Stuck => "stuck",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
            Self::Resolved => "resolved",
        }
    }

    /// Every state, for adapters that map them.
    pub const ALL: [Self; 6] = [
        Self::Running,
        Self::Compensating,
        Self::Stuck,
        Self::Completed,
        Self::Compensated,
        Self::Resolved,
    ];
}

impl fmt::Display for SagaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a stored state string is unknown.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown saga state {0:?}")]
pub struct ParseStateError(String);

impl FromStr for SagaState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseStateError(s.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_from_their_text() {
        for s in SagaState::ALL {
            assert_eq!(s.as_str().parse::<SagaState>().expect("known"), s);
        }
        assert!("exploded".parse::<SagaState>().is_err());
    }
}
