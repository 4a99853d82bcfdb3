//! Resuming every saga of the definition left unfinished by a crashed (or stopped) executor.

use std::collections::HashMap;

use tokio::task::JoinSet;

use super::{Executor, SagaOutcome};
use crate::error::{Error, Result};
use crate::id::SagaId;
use crate::log::{ClaimRequest, ClaimTarget, CorruptSaga, LogError, SagaState};
use crate::step::SagaData;

/// What [`Executor::recover`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Sagas resumed that completed.
    pub completed: usize,
    /// Sagas resumed that were compensated.
    pub compensated: usize,
    /// Sagas resumed that parked as stuck.
    pub stuck: usize,
    /// Sagas whose driver failed, panicked included (they stay in the log for a later recovery).
    pub failed: Vec<(SagaId, Error)>,
    /// Sagas resumed whose next write met a conflict: another writer advanced them after the claim
    /// (another executor took them over, or a local driver finished them meanwhile). Nothing is lost:
    /// their new driver owns them.
    pub superseded: Vec<SagaId>,
    /// Sagas claimed that this executor was driving already; their drivers keep them.
    pub already_driven: usize,
    /// Sagas whose log cannot be decoded or replayed: reported with the reason, not resumed, never
    /// fatal to the pass. They stay in the log for an operator.
    pub corrupt: Vec<CorruptSaga>,
}

impl RecoveryReport {
    /// Sagas this pass resumed (whatever became of them).
    #[must_use]
    pub fn resumed(&self) -> usize {
        self.completed + self.compensated + self.stuck + self.failed.len() + self.superseded.len()
    }

    /// Every saga the pass found: resumed, already driven here, or corrupt.
    #[must_use]
    pub fn found(&self) -> usize {
        self.resumed() + self.already_driven + self.corrupt.len()
    }
}

impl<D: SagaData> Executor<D> {
    /// Resumes every running or compensating saga of this definition whose lease expired (or that this
    /// owner id holds), until none is left; returns how they ended.
    ///
    /// Call it at startup, and periodically if other executors may die. Sagas resume from their last
    /// recorded transition; a step whose completion was not recorded runs again with the same idempotency
    /// key.
    ///
    /// # Errors
    /// Only a failure to claim; failures of individual sagas are in the report.
    pub async fn recover(&self) -> Result<RecoveryReport> {
        let inner = &*self.inner;
        let mut report = RecoveryReport::default();
        let mut after = None;
        // One pipeline across batches: the next claim is made while the previous batch still runs, so
        // a batch's slowest saga does not idle the other slots.
        let mut tasks = JoinSet::new();
        // Which task drives which saga, so a driver that panicked is accounted for too.
        let mut running = HashMap::new();
        let claimed = loop {
            let claim = ClaimRequest::new(
                &*inner.def.name,
                inner.def.version,
                &*inner.config.owner_id,
                inner.config.lease_ttl,
                ClaimTarget::Recoverable {
                    limit: inner.config.recovery_batch,
                    after,
                },
            );
            let batch = match inner.log.claim(claim).await {
                Ok(batch) => batch,
                Err(e) => break Err(e),
            };
            let Some(last) = batch.last_id() else {
                break Ok(());
            };
            after = Some(last);
            report.corrupt.extend(batch.corrupt);
            for claimed in batch.claimed {
                let id = claimed.snapshot.instance.id;
                // Sagas this executor is driving right now come back too (same owner id, fence
                // unchanged): their drivers keep them.
                let Ok(guard) = inner.registry.try_enter(id) else {
                    report.already_driven += 1;
                    continue;
                };
                while tasks.len() >= inner.config.recovery_concurrency {
                    if let Some(joined) = tasks.join_next_with_id().await {
                        tally(&mut report, &mut running, joined);
                    }
                }
                let driver = match self.resume(claimed, guard) {
                    Ok(driver) => driver,
                    Err(e @ (Error::InconsistentLog { .. } | Error::Codec { .. })) => {
                        report.corrupt.push(CorruptSaga::new(id, e.to_string()));
                        continue;
                    }
                    Err(e) => {
                        report.failed.push((id, e));
                        continue;
                    }
                };
                let task = tasks.spawn(driver.drive());
                running.insert(task.id(), id);
            }
        };
        // Dropping the set would abort the drivers: let every resumed saga finish first.
        while let Some(joined) = tasks.join_next_with_id().await {
            tally(&mut report, &mut running, joined);
        }
        claimed?;
        Ok(report)
    }
}

type Joined<D> =
    std::result::Result<(tokio::task::Id, Result<SagaOutcome<D>>), tokio::task::JoinError>;

/// Accounts for one resumed saga's driver, whatever became of it.
fn tally<D>(
    report: &mut RecoveryReport,
    running: &mut HashMap<tokio::task::Id, SagaId>,
    joined: Joined<D>,
) {
    let task = match &joined {
        Ok((task, _)) => *task,
        Err(e) => e.id(),
    };
    let Some(id) = running.remove(&task) else {
        return;
    };
    match joined {
        Ok((_, result)) => {
            match result {
                Ok(outcome) => match outcome.state {
                    SagaState::Completed => report.completed += 1,
                    SagaState::Stuck => report.stuck += 1,
                    _ => report.compensated += 1,
                },
                // Another writer advanced the saga after the claim (it finished under a local
                // driver in the meantime, or another executor took it over): it is theirs now.
                Err(Error::Log(LogError::Conflict { .. })) => report.superseded.push(id),
                Err(e) => report.failed.push((id, e)),
            }
        }
        Err(e) => {
            let error = if e.is_panic() {
                Error::DriverPanicked { saga_id: id }
            } else {
                Error::DriverAborted { saga_id: id }
            };
            report.failed.push((id, error));
        }
    }
}
