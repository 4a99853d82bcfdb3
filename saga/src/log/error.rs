//! The errors of a saga log.

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

/// Errors of a [`SagaLog`](crate::log::SagaLog).
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
    /// The log does not implement this operation (e.g. a [`ClaimTarget`](crate::log::ClaimTarget) added after it was written).
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
