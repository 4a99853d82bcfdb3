//! Cancelling a saga before its pivot.

use super::control::CancelAnswer;
use super::Executor;
use crate::error::{CancelRefusal, Error, Result};
use crate::id::SagaId;
use crate::log::SagaState;
use crate::step::SagaData;

impl<D: SagaData> Executor<D> {
    /// Cancels a saga before its pivot: it compensates the steps that started and ends `Compensated`.
    ///
    /// Returns `Ok` only if the saga will compensate: it is before its commit point (the pivot, the
    /// first retriable step, or for a saga with neither, the recording of its last step's completion),
    /// or it is compensating already. A saga this executor is driving is signalled directly (a retry
    /// backoff is cut short; a running step finishes first and is then compensated). A saga in the log
    /// whose lease expired (or that this executor's owner id holds) is taken over and driven on a
    /// spawned task: compensated if the cancel was accepted, forward otherwise.
    ///
    /// An accepted cancel is held by the saga's driver until it records the abort at the next step
    /// boundary (right away for a saga taken over here). If the process dies, or its lease lapses and
    /// another executor takes the saga over, before that record lands, the cancel is lost: the saga
    /// resumes from its log uncancelled. [`status`](Self::status) shows the abort once recorded; use
    /// [`cancel_recorded`](Self::cancel_recorded) when the cancel must survive a crash.
    ///
    /// # Errors
    /// [`Error::CancelRefused`] past the commit point (also when the pivot may have started before a
    /// crash), when finished, or when stuck; [`Error::OwnedElsewhere`] if another live executor drives
    /// it; [`Error::UnknownSaga`]; [`Error::InconsistentLog`] if its log cannot be replayed.
    pub async fn cancel(&self, id: SagaId) -> Result<()> {
        let refused = |reason| Error::CancelRefused {
            saga_id: id,
            reason,
        };
        let guard = loop {
            match self.inner.registry.try_enter(id) {
                Ok(guard) => break guard,
                Err(control) => match control.request_cancel().await {
                    CancelAnswer::Accepted => return Ok(()),
                    CancelAnswer::Refused(reason) => return Err(refused(reason)),
                    CancelAnswer::Released => {}
                },
            }
        };
        let snapshot = self.load(id).await?;
        match snapshot.instance.state {
            s if s.is_terminal() => return Err(refused(CancelRefusal::Finished(s))),
            SagaState::Stuck => return Err(refused(CancelRefusal::Stuck)),
            _ => {}
        }
        let claimed = self.claim_one(&snapshot).await?;
        let driver = self.resume(claimed, guard)?;
        let control = driver.control();
        let answer = control.request_cancel().await;
        tokio::spawn(driver.drive());
        match answer {
            CancelAnswer::Accepted => Ok(()),
            CancelAnswer::Refused(reason) => Err(refused(reason)),
            // Our own guard is held by the driver just spawned.
            CancelAnswer::Released => Err(refused(CancelRefusal::PastPivot)),
        }
    }

    /// Cancels like [`cancel`](Self::cancel), and returns only once the abort is **in the log**, so an
    /// accepted cancel survives a crash of this process or a lost lease: it waits for the step that is
    /// running to return (the abort is written at the step boundary), which `cancel` does not.
    ///
    /// If the driver lets go of the saga before it recorded the abort (its lease lapsed and another
    /// executor took the saga over, or its log write failed), the saga is read back from the log: an
    /// abort that landed counts; otherwise the cancel is asked again, with `cancel`'s answers.
    ///
    /// # Errors
    /// As [`cancel`](Self::cancel), for the first answer that is not an acceptance; a log error while
    /// reading the saga back.
    pub async fn cancel_recorded(&self, id: SagaId) -> Result<()> {
        loop {
            self.cancel(id).await?;
            if let Some(control) = self.inner.registry.get(id) {
                if control.cancel_recorded().await {
                    return Ok(());
                }
            }
            // No driver here any more: the log says whether the abort landed.
            match self.load(id).await?.instance.state {
                SagaState::Compensating | SagaState::Compensated | SagaState::Stuck => {
                    return Ok(())
                }
                // Never recorded (or, impossibly, finished forward): ask again, and get its answer.
                _ => {}
            }
        }
    }
}
