#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod definition;
mod error;
pub mod executor;
mod id;
pub mod log;
pub mod middleware;
pub mod participant;
mod sharded;
mod step;
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
pub mod trace;
pub mod transport;

pub use definition::{
    DefinitionBuilder, DefinitionError, RetryPolicy, SagaDefinition, StepKind, StepSpec,
};
pub use error::{CancelRefusal, Error, Result};
pub use executor::{
    CurrentStep, Executor, ExecutorConfig, FailureKind, HistoryEntry, RecoveryReport, SagaFailure,
    SagaHandle, SagaOutcome, SagaStatus,
};
pub use id::{Direction, IdempotencyKey, ParseIdempotencyKeyError, ParseSagaIdError, SagaId};
pub use log::{ConflictKind, EventKind, InMemoryLog, LogError, LogEvent, SagaLog, SagaState};
pub use step::{
    compensation_fn, step_fn, BoxError, Compensation, CompensationFn, SagaData, Step, StepContext,
    StepError, StepErrorKind, StepFn,
};

pub use participant::{
    IdempotencyStore, InMemoryIdempotencyStore, Participant, RemoteCompensation, RemoteStep,
    ReplyRouter,
};
pub use transport::{InProcTransport, Message, Transport, TransportError};

/// Re-exported so implementors of [`Step`], [`SagaLog`] and friends need no extra dependency.
pub use async_trait::async_trait;
