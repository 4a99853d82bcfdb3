//! The transitions a saga log records.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::id::Direction;

/// Why compensation was requested when no step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AbortReason {
    /// `Executor::cancel` before the pivot.
    Cancelled,
    /// The saga deadline passed before the pivot.
    DeadlineExceeded,
}

impl AbortReason {
    /// `"cancelled"` or `"deadline_exceeded"`, as stored.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::DeadlineExceeded => "deadline_exceeded",
        }
    }
}

/// One transition of a saga. Every transition is durable before the next action starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogEvent {
    /// The saga was created with its initial data.
    Started {
        /// Encoded saga data.
        data: Bytes,
    },
    /// A forward step completed; `data` is the saga data it produced.
    StepCompleted {
        /// Step index.
        step: u32,
        /// The attempt that succeeded.
        attempt: u32,
        /// Encoded saga data after the step.
        data: Bytes,
    },
    /// A forward attempt failed transiently and will be retried.
    StepRetrying {
        /// Step index.
        step: u32,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// A forward step failed permanently (the business said no): compensation of the steps before it
    /// starts.
    StepRefused {
        /// Step index.
        step: u32,
        /// The attempt that was refused.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// A forward step timed out or exhausted its retries: its outcome is unknown, so it is compensated
    /// along with the steps before it.
    StepUnknown {
        /// Step index.
        step: u32,
        /// The last attempt.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// Compensation was requested with no failing step; the first `steps` steps are compensated.
    Aborted {
        /// Cancel or deadline.
        reason: AbortReason,
        /// How many leading steps (may have) started and must be compensated.
        steps: u32,
    },
    /// A compensation completed.
    CompensationCompleted {
        /// Step index.
        step: u32,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// A compensation attempt failed and will be retried.
    CompensationRetrying {
        /// Step index.
        step: u32,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// The saga is parked for an operator.
    Stuck {
        /// The step that could not finish.
        step: u32,
        /// Whether its action or its compensation gave up.
        direction: Direction,
        /// Why.
        error: String,
    },
    /// An operator asked the executor to try a stuck saga again.
    OperatorRetried,
    /// An operator resolved a stuck saga by hand.
    OperatorResolved {
        /// What the operator said.
        note: String,
    },
    /// Every step completed.
    Completed,
    /// Every started step was compensated.
    Compensated,
}
