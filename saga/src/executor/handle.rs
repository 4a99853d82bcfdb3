//! The handle of a saga started on its own task.

use super::SagaOutcome;
use crate::error::{Error, Result};
use crate::id::SagaId;

/// A saga started with [`Executor::start`](super::Executor::start), running on its own task.
#[derive(Debug)]
pub struct SagaHandle<D> {
    pub(super) id: SagaId,
    pub(super) task: tokio::task::JoinHandle<Result<SagaOutcome<D>>>,
}

impl<D> SagaHandle<D> {
    /// The saga's id.
    #[must_use]
    pub const fn id(&self) -> SagaId {
        self.id
    }

    /// Stops driving the saga here, as if the process died: the saga stays in the log, unfinished, and
    /// a later `recover` (by this owner id at once, by others when the lease expires) resumes it.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Waits for the saga to finish (or park as stuck).
    ///
    /// # Errors
    /// What the driver returned, [`Error::DriverAborted`] or [`Error::DriverPanicked`].
    pub async fn outcome(self) -> Result<SagaOutcome<D>> {
        let id = self.id;
        match self.task.await {
            Ok(result) => result,
            Err(e) if e.is_cancelled() => Err(Error::DriverAborted { saga_id: id }),
            Err(_) => Err(Error::DriverPanicked { saga_id: id }),
        }
    }
}
