//! What a saga log stores: instances, their states and their records.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::id::{Direction, SagaId};

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
    /// The stable kind name stored by adapters.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::StepCompleted { .. } => "step_completed",
            Self::StepRetrying { .. } => "step_retrying",
            Self::StepRefused { .. } => "step_refused",
            Self::StepUnknown { .. } => "step_unknown",
            Self::Aborted { .. } => "aborted",
            Self::CompensationCompleted { .. } => "compensation_completed",
            Self::CompensationRetrying { .. } => "compensation_retrying",
            Self::Stuck {
                direction: Direction::Forward,
                ..
            } => "stuck_forward",
            Self::Stuck {
                direction: Direction::Compensate,
                ..
            } => "stuck_compensating",
            Self::OperatorRetried => "operator_retried",
            Self::OperatorResolved { .. } => "operator_resolved",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
        }
    }

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

/// A stored [`LogEvent`] with its position and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// 1-based position in the saga's log; the saga's version after this record.
    pub seq: u64,
    /// When the log stored it, in milliseconds since the Unix epoch (the log's clock).
    pub at_ms: u64,
    /// The transition.
    pub event: LogEvent,
}

/// The summary row of a saga instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SagaInstance {
    /// The saga.
    pub id: SagaId,
    /// Its definition's name.
    pub definition: String,
    /// Its definition's version.
    pub definition_version: u32,
    /// Current state.
    pub state: SagaState,
    /// Optimistic version: the `seq` of the last record.
    pub version: u64,
    /// The executor holding the lease, if any (none once terminal or stuck).
    pub owner: Option<String>,
    /// Fencing token, incremented on every claim.
    pub fence: u64,
    /// Saga deadline, milliseconds since the Unix epoch.
    pub deadline_at_ms: Option<u64>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// Time of the last append, milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

impl SagaInstance {
    /// Builds an instance row (for adapters that read rows back).
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        id: SagaId,
        definition: String,
        definition_version: u32,
        state: SagaState,
        version: u64,
        owner: Option<String>,
        fence: u64,
        deadline_at_ms: Option<u64>,
        created_at_ms: u64,
        updated_at_ms: u64,
    ) -> Self {
        Self {
            id,
            definition,
            definition_version,
            state,
            version,
            owner,
            fence,
            deadline_at_ms,
            created_at_ms,
            updated_at_ms,
        }
    }
}

/// An instance with all its records, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaSnapshot {
    /// The summary row.
    pub instance: SagaInstance,
    /// Every record, in `seq` order.
    pub records: Vec<LogRecord>,
}

/// Proof of ownership of a saga: appends must present the fence of the latest claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The fencing token.
    pub fence: u64,
}

/// Arguments of [`SagaLog::create`](super::SagaLog::create).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewSaga {
    /// The new saga's id; creating an id that exists is a `Conflict`.
    pub id: SagaId,
    /// Definition name.
    pub definition: String,
    /// Definition version.
    pub definition_version: u32,
    /// Saga deadline, milliseconds since the Unix epoch.
    pub deadline_at_ms: Option<u64>,
    /// Encoded initial data, stored as the `Started` record.
    pub data: Bytes,
    /// The creating executor, which takes the lease.
    pub owner: String,
    /// How long the lease lasts without an append.
    pub lease_ttl: Duration,
}

impl NewSaga {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        id: SagaId,
        definition: impl Into<String>,
        definition_version: u32,
        data: Bytes,
        owner: impl Into<String>,
        lease_ttl: Duration,
    ) -> Self {
        Self {
            id,
            definition: definition.into(),
            definition_version,
            deadline_at_ms: None,
            data,
            owner: owner.into(),
            lease_ttl,
        }
    }

    /// Sets the deadline.
    #[must_use]
    pub fn with_deadline_at_ms(mut self, deadline_at_ms: Option<u64>) -> Self {
        self.deadline_at_ms = deadline_at_ms;
        self
    }
}

/// Arguments of [`SagaLog::append`](super::SagaLog::append).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Append<'a> {
    /// The saga.
    pub id: SagaId,
    /// The version the writer last saw; any other current version is a `Conflict`.
    pub expected_version: u64,
    /// The writer's lease; a newer claim is a `Conflict`.
    pub lease: Lease,
    /// The saga's state after these events.
    pub state: SagaState,
    /// One or more events, stored atomically in order.
    pub events: &'a [LogEvent],
    /// Extends the lease by this much (ignored when `state` is terminal or stuck: the lease is released).
    pub lease_ttl: Duration,
}

impl<'a> Append<'a> {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        id: SagaId,
        expected_version: u64,
        lease: Lease,
        state: SagaState,
        events: &'a [LogEvent],
        lease_ttl: Duration,
    ) -> Self {
        Self {
            id,
            expected_version,
            lease,
            state,
            events,
            lease_ttl,
        }
    }
}

/// Which sagas a [`SagaLog::claim`](super::SagaLog::claim) takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimTarget {
    /// Up to `limit` running or compensating sagas of the definition whose lease expired or is held by
    /// the claimant itself (a restarted executor with a stable owner id), with an id greater than `after`,
    /// in ascending id order. Stuck sagas are not included.
    ///
    /// Callers page through with `after` = the last id of the previous batch: because the claimant's own
    /// sagas stay claimable to it, paging (not repetition) is what ends a recovery pass.
    Recoverable {
        /// Maximum number of sagas to claim.
        limit: usize,
        /// Only ids strictly greater than this (keyset paging); `None` starts at the beginning.
        after: Option<SagaId>,
    },
    /// One saga, in any non-terminal state including stuck, if its lease expired, is released, or is the
    /// claimant's.
    One(SagaId),
}

/// Arguments of [`SagaLog::claim`](super::SagaLog::claim).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claim {
    /// Only sagas of this definition name...
    pub definition: String,
    /// ...and version.
    pub definition_version: u32,
    /// The claiming executor.
    pub owner: String,
    /// Lease length.
    pub lease_ttl: Duration,
    /// What to claim.
    pub target: ClaimTarget,
}

impl Claim {
    /// Builds the arguments.
    #[must_use]
    pub fn new(
        definition: impl Into<String>,
        definition_version: u32,
        owner: impl Into<String>,
        lease_ttl: Duration,
        target: ClaimTarget,
    ) -> Self {
        Self {
            definition: definition.into(),
            definition_version,
            owner: owner.into(),
            lease_ttl,
            target,
        }
    }
}

/// A saga taken over by a claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Its instance and records.
    pub snapshot: SagaSnapshot,
    /// The lease: fence incremented when the saga changed owner, unchanged when the claimant already
    /// held it.
    pub lease: Lease,
}

/// A saga a claim found but could not take over because its stored rows do not decode (an unknown
/// kind, a missing payload, a number out of range, text that is not UTF-8, ...).
///
/// A log reports such a saga instead of failing the whole claim, and takes **no lease** on it: no driver
/// could hold that lease. It stays in the log as it is, for an operator to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CorruptSaga {
    /// The saga.
    pub id: SagaId,
    /// What did not decode (bounded in length, never the stored data itself).
    pub reason: String,
}

impl CorruptSaga {
    /// The longest reason kept, in bytes.
    pub const MAX_REASON: usize = 256;

    /// A report for `id`; `reason` is cut to [`MAX_REASON`](Self::MAX_REASON) bytes.
    #[must_use]
    pub fn new(id: SagaId, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > Self::MAX_REASON {
            let mut end = Self::MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self { id, reason }
    }
}

/// What a [`SagaLog::claim`](super::SagaLog::claim) returned: the sagas taken over, and the ones found
/// corrupt (not taken over).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClaimBatch {
    /// Sagas now leased to the claimant, in ascending id order.
    pub claimed: Vec<Claimed>,
    /// Candidates whose rows did not decode; no lease was taken on them.
    pub corrupt: Vec<CorruptSaga>,
}

impl ClaimBatch {
    /// A batch of claimed sagas and corrupt ones.
    #[must_use]
    pub fn new(claimed: Vec<Claimed>, corrupt: Vec<CorruptSaga>) -> Self {
        Self { claimed, corrupt }
    }

    /// Whether the claim found nothing at all (the end of a recovery pass).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.claimed.is_empty() && self.corrupt.is_empty()
    }

    /// The greatest id in the batch, claimed or corrupt: the `after` of the next page.
    #[must_use]
    pub fn last_id(&self) -> Option<SagaId> {
        self.claimed
            .iter()
            .map(|c| c.snapshot.instance.id)
            .chain(self.corrupt.iter().map(|c| c.id))
            .max()
    }
}

impl From<Vec<Claimed>> for ClaimBatch {
    fn from(claimed: Vec<Claimed>) -> Self {
        Self {
            claimed,
            corrupt: Vec::new(),
        }
    }
}

/// Arguments of [`SagaLog::list`](super::SagaLog::list).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only this definition, if set.
    pub definition: Option<String>,
    /// Only these states (all states if empty).
    pub states: Vec<SagaState>,
    /// At most this many, oldest first.
    pub limit: usize,
}

impl ListQuery {
    /// Sagas in any of `states`, at most `limit`.
    #[must_use]
    pub fn in_states(states: impl IntoIterator<Item = SagaState>, limit: usize) -> Self {
        Self {
            definition: None,
            states: states.into_iter().collect(),
            limit,
        }
    }

    /// Restricts to one definition.
    #[must_use]
    pub fn for_definition(mut self, definition: impl Into<String>) -> Self {
        self.definition = Some(definition.into());
        self
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

    #[test]
    fn states_parse_from_their_text() {
        for s in SagaState::ALL {
            assert_eq!(s.as_str().parse::<SagaState>().expect("known"), s);
        }
        assert!("exploded".parse::<SagaState>().is_err());
    }
}
