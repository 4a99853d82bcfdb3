//! The crate's error type.

use crate::id::SagaId;
use crate::log::{LogError, SagaState};

/// Why `cancel` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelRefusal {
    /// The pivot started or completed: the saga can only go forward now.
    PastPivot,
    /// The saga already reached a terminal state.
    Finished(SagaState),
    /// The saga is stuck; use `retry` or `resolve`.
    Stuck,
}

/// Errors of the executor and the participant runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The saga log failed or refused a write (see [`LogError`]).
    #[error(transparent)]
    Log(#[from] LogError),
    /// No saga with this id in the log.
    #[error("unknown saga {saga_id}")]
    UnknownSaga {
        /// The id asked for.
        saga_id: SagaId,
    },
    /// The saga belongs to another definition (or version) than this executor's.
    #[error("saga {saga_id} belongs to definition {found:?} v{found_version}, not {expected:?} v{expected_version}")]
    WrongDefinition {
        /// The saga.
        saga_id: SagaId,
        /// Its definition.
        found: String,
        /// Its definition version.
        found_version: u32,
        /// This executor's definition.
        expected: String,
        /// This executor's definition version.
        expected_version: u32,
    },
    /// Saga data could not be encoded or decoded.
    #[error("saga data codec error for saga {saga_id}: {source}")]
    Codec {
        /// The saga.
        saga_id: SagaId,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// `cancel` was refused.
    #[error("cancel of saga {saga_id} refused: {reason:?}")]
    CancelRefused {
        /// The saga.
        saga_id: SagaId,
        /// Why.
        reason: CancelRefusal,
    },
    /// An operator action (`retry`, `resolve`) needs a stuck saga.
    #[error("saga {saga_id} is {state}, not stuck")]
    NotStuck {
        /// The saga.
        saga_id: SagaId,
        /// Its current state.
        state: SagaState,
    },
    /// Another live executor holds the saga's lease.
    #[error("saga {saga_id} is being driven by another executor ({owner})")]
    OwnedElsewhere {
        /// The saga.
        saga_id: SagaId,
        /// The owner recorded in the log.
        owner: String,
    },
    /// [`Executor::wait`](crate::Executor::wait) found the saga unfinished with no driver of this
    /// executor holding it: another executor process drives it, or it waits for a `recover`.
    #[error("saga {saga_id} is {state} and not driven by this executor (lease owner: {owner:?})")]
    NotDrivenHere {
        /// The saga.
        saga_id: SagaId,
        /// Its state in the log.
        state: SagaState,
        /// The lease owner recorded in the log, if any.
        owner: Option<String>,
    },
    /// A recorded transition does not fit the definition (e.g. a step index out of range).
    #[error("saga {saga_id} has an inconsistent log: {message}")]
    InconsistentLog {
        /// The saga.
        saga_id: SagaId,
        /// What did not fit.
        message: String,
    },
    /// A transport failed (see [`TransportError`](crate::transport::TransportError)).
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// The task driving the saga was aborted (`SagaHandle::abort`, runtime shutdown); the saga stays in
    /// the log and `recover` resumes it.
    #[error("the driver of saga {saga_id} was aborted")]
    DriverAborted {
        /// The saga.
        saga_id: SagaId,
    },
    /// The task driving the saga panicked; the saga stays in the log and `recover` resumes it.
    #[error("the driver of saga {saga_id} panicked")]
    DriverPanicked {
        /// The saga.
        saga_id: SagaId,
    },
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
