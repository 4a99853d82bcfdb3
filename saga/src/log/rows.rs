//! What a saga log hands back: records, instance rows, snapshots, leases and claimed sagas.

use super::event::LogEvent;
use super::state::SagaState;
use crate::id::SagaId;

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
    /// A running instance at version 1, fence 1, with no owner, deadline or times; adapters that read
    /// rows back set the rest with the `with_*` methods.
    ///
    /// ```
    /// use saga::log::{SagaInstance, SagaState};
    /// use saga::SagaId;
    /// let row = SagaInstance::new(SagaId::new(), "order", 1, SagaState::Compensating)
    ///     .with_version(4)
    ///     .with_owner(Some("orders-1".to_owned()))
    ///     .with_fence(2);
    /// assert_eq!((row.version, row.fence), (4, 2));
    /// ```
    #[must_use]
    pub fn new(
        id: SagaId,
        definition: impl Into<String>,
        definition_version: u32,
        state: SagaState,
    ) -> Self {
        Self {
            id,
            definition: definition.into(),
            definition_version,
            state,
            version: 1,
            owner: None,
            fence: 1,
            deadline_at_ms: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    /// Sets the version (the `seq` of the last record).
    #[must_use]
    pub const fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Sets the lease owner.
    #[must_use]
    pub fn with_owner(mut self, owner: Option<String>) -> Self {
        self.owner = owner;
        self
    }

    /// Sets the fencing token.
    #[must_use]
    pub const fn with_fence(mut self, fence: u64) -> Self {
        self.fence = fence;
        self
    }

    /// Sets the saga deadline (milliseconds since the Unix epoch).
    #[must_use]
    pub const fn with_deadline_at_ms(mut self, deadline_at_ms: Option<u64>) -> Self {
        self.deadline_at_ms = deadline_at_ms;
        self
    }

    /// Sets the creation time (milliseconds since the Unix epoch).
    #[must_use]
    pub const fn with_created_at_ms(mut self, at_ms: u64) -> Self {
        self.created_at_ms = at_ms;
        self
    }

    /// Sets the time of the last append (milliseconds since the Unix epoch).
    #[must_use]
    pub const fn with_updated_at_ms(mut self, at_ms: u64) -> Self {
        self.updated_at_ms = at_ms;
        self
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
