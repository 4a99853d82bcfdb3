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

mod coalesce;
mod memory;
mod record;
mod write_op;

use async_trait::async_trait;

pub use coalesce::{BatchAbandoned, BatchRunner, BatchingConfig, Coalescer};
pub use memory::{InMemoryLog, InMemoryLogStats};
pub use record::{
    AbortReason, Append, Claim, ClaimBatch, ClaimTarget, Claimed, CorruptSaga, EventParts, Lease,
    ListQuery, LogEvent, LogRecord, MalformedEvent, NewSaga, ParseStateError, SagaInstance,
    SagaSnapshot, SagaState,
};
pub use write_op::{OwnedAppend, WriteOp, WriteResult};

use crate::id::SagaId;
use crate::step::BoxError;

/// Why a conflict happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictKind {
    /// Another append landed first.
    VersionMismatch,
    /// Another executor claimed the saga; this writer's fence is stale.
    LeaseLost,
    /// `create` with an id that exists.
    AlreadyExists,
    /// The saga is terminal (or stuck) and takes no further appends from executors.
    Finished,
}

/// Errors of a [`SagaLog`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The write lost a race or its lease: the saga is someone else's now. Not retried by the executor:
    /// the writer must stop driving this saga.
    #[error("conflict on saga {saga_id}: {kind:?} (expected version {expected_version}, found {actual_version:?})")]
    Conflict {
        /// The saga.
        saga_id: SagaId,
        /// What kind of conflict.
        kind: ConflictKind,
        /// The version the writer expected.
        expected_version: u64,
        /// The version found, if known.
        actual_version: Option<u64>,
    },
    /// No saga with this id.
    #[error("unknown saga {saga_id}")]
    NotFound {
        /// The saga.
        saga_id: SagaId,
    },
    /// A stored record could not be decoded.
    #[error("corrupt log record for saga {saga_id}: {message}")]
    Corrupt {
        /// The saga.
        saga_id: SagaId,
        /// What was wrong.
        message: String,
    },
    /// The log does not implement this operation (e.g. a [`ClaimTarget`] added after it was written).
    /// Returned instead of silently doing nothing.
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// Which log, e.g. `"postgres"`.
        backend: &'static str,
        /// What was asked for.
        operation: String,
    },
    /// The backend failed (connection, I/O, server error).
    #[error("saga log backend error ({backend}): {message}")]
    Backend {
        /// Which backend, e.g. `"postgres"`.
        backend: &'static str,
        /// What failed (never contains credentials).
        message: String,
        /// Whether retrying the same call may succeed (connection lost, deadlock, serialization failure).
        transient: bool,
        /// The backend's own error.
        #[source]
        source: Option<BoxError>,
    },
}

impl LogError {
    /// Whether retrying the same call may succeed. The executor retries transient log errors with
    /// backoff; everything else stops the saga's driver (the saga stays recoverable in the log).
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                transient: true,
                ..
            }
        )
    }

    /// Builds a `Conflict`.
    #[must_use]
    pub const fn conflict(
        saga_id: SagaId,
        kind: ConflictKind,
        expected_version: u64,
        actual_version: Option<u64>,
    ) -> Self {
        Self::Conflict {
            saga_id,
            kind,
            expected_version,
            actual_version,
        }
    }
}

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
    async fn claim(&self, claim: Claim) -> Result<ClaimBatch, LogError>;

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
    async fn claim(&self, claim: Claim) -> Result<ClaimBatch, LogError> {
        (**self).claim(claim).await
    }
    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        (**self).list(query).await
    }
}

/// Milliseconds since the Unix epoch on this machine's clock.
#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
