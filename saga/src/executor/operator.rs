//! Operator actions on a stuck saga: try it again, or mark it resolved by hand.

use super::registry::RegistryGuard;
use super::replay::Phase;
use super::{Executor, SagaOutcome};
use crate::error::{Error, Result};
use crate::id::{Direction, SagaId};
use crate::log::{Append, LogEvent, SagaSnapshot, SagaState};
use crate::step::SagaData;

impl<D: SagaData> Executor<D> {
    /// Operator action: tries a stuck saga again from where it gave up (its retry budget starts afresh)
    /// and drives it on the calling task.
    ///
    /// # Errors
    /// [`Error::NotStuck`], [`Error::UnknownSaga`], log errors.
    pub async fn retry(&self, id: SagaId) -> Result<SagaOutcome<D>> {
        let guard = self.reserve_stuck(id).await?;
        let snapshot = self.load_stuck(id).await?;
        let claimed = self.claim_one(&snapshot).await?;
        let mut driver = self.resume(claimed, guard)?;
        let Phase::Stuck { step, direction } = driver.phase else {
            return Err(Error::NotStuck {
                saga_id: id,
                state: driver.phase.state(),
            });
        };
        let (state, phase) = match direction {
            Direction::Forward => (SagaState::Running, Phase::Forward { step, attempt: 1 }),
            Direction::Compensate => (
                SagaState::Compensating,
                Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                },
            ),
        };
        // The new phase is known before the first write: a cancel arriving during it gets its answer
        // from it (a stuck pivot or retriable step is past the commit point).
        let in_doubt = direction == Direction::Forward;
        driver
            .control()
            .start(phase, in_doubt, self.inner.def.commit_point);
        let version = self
            .inner
            .log
            .append(Append::new(
                id,
                driver.version,
                driver.lease,
                state,
                &[LogEvent::OperatorRetried],
                self.inner.config.lease_ttl,
            ))
            .await?;
        driver.version = version;
        driver.phase = phase;
        driver.in_doubt = in_doubt;
        driver.drive().await
    }

    /// Operator action: marks a stuck saga resolved by hand (terminal state `Resolved`), with a note for
    /// the history.
    ///
    /// # Errors
    /// [`Error::NotStuck`], [`Error::UnknownSaga`], log errors.
    pub async fn resolve(&self, id: SagaId, note: impl Into<String>) -> Result<()> {
        let guard = self.reserve_stuck(id).await?;
        let snapshot = self.load_stuck(id).await?;
        let claimed = self.claim_one(&snapshot).await?;
        // The slot stays pending until it is released: a cancel meanwhile then finds `Resolved`.
        let _guard = guard;
        self.inner
            .log
            .append(Append::new(
                id,
                claimed.snapshot.instance.version,
                claimed.lease,
                SagaState::Resolved,
                &[LogEvent::OperatorResolved { note: note.into() }],
                self.inner.config.lease_ttl,
            ))
            .await?;
        Ok(())
    }

    /// Reserves the slot of a saga an operator acts on; waits for a local driver that is parking it as
    /// stuck to let go, and refuses one that drives it.
    async fn reserve_stuck(&self, id: SagaId) -> Result<RegistryGuard> {
        loop {
            match self.inner.registry.try_enter(id) {
                Ok(guard) => return Ok(guard),
                Err(control) => match control.saga_state().await {
                    Some(SagaState::Stuck) => control.released().await,
                    Some(state) => return Err(Error::NotStuck { saga_id: id, state }),
                    None => {}
                },
            }
        }
    }

    async fn load_stuck(&self, id: SagaId) -> Result<SagaSnapshot> {
        let snapshot = self.load(id).await?;
        if snapshot.instance.state == SagaState::Stuck {
            Ok(snapshot)
        } else {
            Err(Error::NotStuck {
                saga_id: id,
                state: snapshot.instance.state,
            })
        }
    }
}
