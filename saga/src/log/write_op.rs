//! Owned log writes, so that a write can wait in a [`Coalescer`](super::Coalescer)'s queue: [`WriteOp`]
//! (a `create` or an `append`) and [`OwnedAppend`].

use std::time::Duration;

use super::{Append, Lease, LogError, NewSaga, SagaState};
use crate::id::SagaId;
use crate::log::LogEvent;

/// An [`Append`] with owned events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OwnedAppend {
    /// The saga.
    pub id: SagaId,
    /// The version the writer last saw.
    pub expected_version: u64,
    /// The writer's lease.
    pub lease: Lease,
    /// The saga's state after these events.
    pub state: SagaState,
    /// The events, stored atomically in order.
    pub events: Vec<LogEvent>,
    /// Extends the lease by this much.
    pub lease_ttl: Duration,
}

impl OwnedAppend {
    /// Copies `a` (its events included; their payloads are reference-counted bytes).
    #[must_use]
    pub fn from_append(a: &Append<'_>) -> Self {
        Self {
            id: a.id,
            expected_version: a.expected_version,
            lease: a.lease,
            state: a.state,
            events: a.events.to_vec(),
            lease_ttl: a.lease_ttl,
        }
    }

    /// Borrows it back as an [`Append`].
    #[must_use]
    pub fn as_append(&self) -> Append<'_> {
        Append::new(
            self.id,
            self.expected_version,
            self.lease,
            self.state,
            &self.events,
            self.lease_ttl,
        )
    }
}

/// One write of a batch: the two writes of [`SagaLog`](super::SagaLog).
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// A `create`.
    Create(NewSaga),
    /// An `append`.
    Append(OwnedAppend),
}

impl WriteOp {
    /// The saga it writes.
    #[must_use]
    pub fn saga_id(&self) -> SagaId {
        match self {
            Self::Create(s) => s.id,
            Self::Append(a) => a.id,
        }
    }
}

/// What a successful write returns: the fence of a created saga's lease, or an append's new version.
pub type WriteResult = Result<u64, LogError>;

impl From<super::coalesce::BatchAbandoned> for LogError {
    /// A transient backend error: whether the write happened is unknown, as after a dropped
    /// connection, and the executor's retry (same version, same fence) settles it.
    fn from(e: super::coalesce::BatchAbandoned) -> Self {
        Self::Backend {
            backend: "batching",
            message: e.to_string(),
            transient: true,
            source: None,
        }
    }
}
