//! The durable saga log: the [`SagaLog`] trait, its record types, and the in-memory implementation.
//!
//! # Implementing a log
//!
//! A log stores bytes and enforces two rules; the executor does everything else.
//!
//! 1. **Optimistic versions.** [`SagaLog::append`] succeeds only if the saga's current version equals
//!    `expected_version`; it then stores the events (atomically, in order, `seq` continuing from the
//!    version) and the new state, and the new version is the last `seq`.
//! 2. **Leases with fencing.** [`SagaLog::create`] gives the creator a lease (fence 1);
//!    [`SagaLog::claim`] takes over sagas whose lease expired and increments the fence; a saga the
//!    claimant already holds (a restarted executor with a stable owner id) is returned with its lease
//!    renewed and the fence unchanged, because an owner id belongs to one live executor at a time.
//!    An append whose fence is not the current one fails with
//!    [`LogError::Conflict`], so a stale executor can never advance a saga it lost. An append extends the
//!    lease; a terminal or stuck state releases it.
//!
//! Lease times use the log's own clock (the database's `now()`), so executors need not agree on time.
//! Run the shared conformance suite, [`crate::testing::conformance::log`], against your implementation.

mod args;
mod coalesce;
mod columns;
mod error;
mod event;
mod kind;
mod memory;
mod rows;
mod state;
mod write_op;

use async_trait::async_trait;

pub use args::{Append, ClaimRequest, ClaimTarget, ListQuery, NewSaga};
pub use coalesce::{BatchAbandoned, BatchRunner, BatchingConfig, Coalescer};
pub use columns::{EventParts, MalformedEvent};
pub use error::{ConflictKind, LogError};
pub use event::{AbortReason, LogEvent};
pub use kind::EventKind;
pub use memory::{InMemoryLog, InMemoryLogStats};
pub use rows::{ClaimBatch, Claimed, CorruptSaga, Lease, LogRecord, SagaInstance, SagaSnapshot};
pub use state::{ParseStateError, SagaState};
pub use write_op::{OwnedAppend, WriteOp, WriteResult};

use crate::id::SagaId;

/// Storage for saga instances and their transitions. See the [module docs](self) for the rules.
///
/// The executor holds an `Arc<dyn SagaLog>`, so implementations must be object safe; every method takes
/// `&self` and may be called concurrently for different sagas.
#[async_trait]
pub trait SagaLog: Send + Sync + 'static {
    /// Creates a saga with its `Started` record (version 1) and gives the creator a lease with fence 1.
    ///
    /// # Errors
    /// `Conflict { kind: AlreadyExists }` if the id exists; `Backend` on storage failure.
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError>;

    /// Appends events under the optimistic version and the lease; returns the new version.
    ///
    /// # Errors
    /// `Conflict` on a version mismatch, a stale fence or a finished saga; `NotFound`; `Backend`.
    async fn append(&self, append: Append<'_>) -> Result<u64, LogError>;

    /// Loads an instance and all its records, or `None` if the id is unknown.
    ///
    /// # Errors
    /// `Corrupt` if a record cannot be decoded; `Backend`.
    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError>;

    /// Takes over sagas for recovery (see [`ClaimTarget`]); two concurrent claims never return the same
    /// saga.
    ///
    /// A candidate whose stored rows do not decode is reported in [`ClaimBatch::corrupt`] and **not**
    /// leased (or its lease is released again before the claim returns): one bad saga never fails a
    /// claim, and no lease is ever held that no driver holds.
    ///
    /// # Errors
    /// `Backend`; [`LogError::Unsupported`] for a [`ClaimTarget`] the log does not implement (never an
    /// empty batch in its place).
    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError>;

    /// Lists instances, oldest first.
    ///
    /// # Errors
    /// `Backend`.
    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError>;
}

#[async_trait]
impl<L: SagaLog + ?Sized> SagaLog for std::sync::Arc<L> {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        (**self).create(saga).await
    }
    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        (**self).append(append).await
    }
    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        (**self).load(id).await
    }
    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        (**self).claim(claim).await
    }
    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        (**self).list(query).await
    }
}

/// Milliseconds since the Unix epoch on this machine's clock.
#[must_use]
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
