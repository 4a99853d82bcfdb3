//! The orchestrating executor: starts sagas, drives them through the log, recovers them after a crash.

mod config;
mod control;
mod driver;
mod registry;
mod replay;
mod status;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use config::ExecutorConfig;
pub use status::{HistoryEntry, SagaOutcome, SagaStatus};

use crate::definition::SagaDefinition;
use crate::error::{CancelRefusal, Error, Result};
use crate::id::SagaId;
use crate::log::{
    now_ms, Append, Claim, ClaimTarget, Claimed, ConflictKind, CorruptSaga, LogError, LogEvent,
    NewSaga, SagaLog, SagaSnapshot, SagaState,
};
use crate::step::SagaData;
use control::CancelAnswer;
use driver::Driver;
use registry::{Registry, RegistryGuard};
use replay::{replay, Phase};

pub(crate) struct Inner<D> {
    pub(crate) def: SagaDefinition<D>,
    pub(crate) log: Arc<dyn SagaLog>,
    pub(crate) config: ExecutorConfig,
    registry: Arc<Registry>,
}

impl<D: SagaData> Inner<D> {
    /// Encodes saga data into an exactly-sized buffer (a log may keep it for the saga's lifetime, so
    /// serde_json's spare capacity would be retained per record).
    pub(crate) fn encode(&self, id: SagaId, data: &D) -> Result<Bytes> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            serde_json::to_writer(&mut *buf, data).map_err(|e| Error::Codec {
                saga_id: id,
                message: e.to_string(),
            })?;
            let bytes = Bytes::copy_from_slice(&buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            Ok(bytes)
        })
    }

    fn decode(&self, id: SagaId, bytes: &[u8]) -> Result<D> {
        serde_json::from_slice(bytes).map_err(|e| Error::Codec {
            saga_id: id,
            message: e.to_string(),
        })
    }
}

/// Drives sagas of one definition over a [`SagaLog`].
///
/// Cheap to clone (an `Arc`); share one per definition across your service. Many sagas run concurrently
/// on one executor: each saga is one future (one task if you use [`start`](Self::start)), and a step costs
/// one boxed future and one log append.
pub struct Executor<D> {
    inner: Arc<Inner<D>>,
}

impl<D> Clone for Executor<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<D> std::fmt::Debug for Executor<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("definition", &self.inner.def.name)
            .field("owner", &self.inner.config.owner_id)
            .finish_non_exhaustive()
    }
}

/// A saga started with [`Executor::start`], running on its own task.
#[derive(Debug)]
pub struct SagaHandle<D> {
    id: SagaId,
    task: tokio::task::JoinHandle<Result<SagaOutcome<D>>>,
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
    /// An executor with the default [`ExecutorConfig`].
    pub fn new(definition: SagaDefinition<D>, log: Arc<dyn SagaLog>) -> Self {
        Self::with_config(definition, log, ExecutorConfig::default())
    }

    /// An executor with the given configuration.
    pub fn with_config(
        definition: SagaDefinition<D>,
        log: Arc<dyn SagaLog>,
        config: ExecutorConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                def: definition,
                log,
                config,
                registry: Arc::new(Registry::new()),
            }),
        }
    }

    /// The definition this executor runs.
    #[must_use]
    pub fn definition(&self) -> &SagaDefinition<D> {
        &self.inner.def
    }

    /// The log it writes to.
    #[must_use]
    pub fn log(&self) -> &Arc<dyn SagaLog> {
        &self.inner.log
    }

    /// Runs a new saga to its end on the calling task and returns how it ended.
    ///
    /// # Errors
    /// Log failures (after retries), lost leases, codec errors. The saga stays in the log and a later
    /// `recover` resumes it.
    pub async fn run(&self, data: D) -> Result<SagaOutcome<D>> {
        self.run_with_id(SagaId::new(), data).await
    }

    /// Like [`run`](Self::run) with a caller-chosen id (e.g. derived from an order id, so a retried
    /// request cannot start a second saga: the second `create` is a `Conflict`).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_with_id(&self, id: SagaId, data: D) -> Result<SagaOutcome<D>> {
        let guard = self.reserve_new(id)?;
        let driver = self.create(id, data, &guard).await?;
        driver.drive().await
    }

    /// Records a new saga, then drives it on a spawned task. When this returns, the saga is durable.
    ///
    /// # Errors
    /// As [`run`](Self::run), for the creation only.
    pub async fn start(&self, data: D) -> Result<SagaHandle<D>> {
        self.start_with_id(SagaId::new(), data).await
    }

    /// Like [`start`](Self::start) with a caller-chosen id.
    ///
    /// # Errors
    /// As [`run`](Self::run), for the creation only.
    pub async fn start_with_id(&self, id: SagaId, data: D) -> Result<SagaHandle<D>> {
        let guard = self.reserve_new(id)?;
        let created = self.create(id, data, &guard).await?;
        let this = self.clone();
        let parts = Parts::from(created);
        let task = tokio::spawn(async move {
            let _guard = &guard;
            parts.into_driver(&this.inner, &guard).drive().await
        });
        Ok(SagaHandle { id, task })
    }

    /// Reserves the slot of a saga about to be created: an id this executor drives already exists.
    fn reserve_new(&self, id: SagaId) -> Result<RegistryGuard> {
        self.inner
            .registry
            .try_enter(id)
            .map_err(|_| LogError::conflict(id, ConflictKind::AlreadyExists, 0, None).into())
    }

    async fn create(&self, id: SagaId, data: D, guard: &RegistryGuard) -> Result<Driver<'_, D>> {
        let inner = &*self.inner;
        let bytes = inner.encode(id, &data)?;
        let deadline = inner.def.deadline;
        let saga = NewSaga::new(
            id,
            &*inner.def.name,
            inner.def.version,
            bytes,
            &*inner.config.owner_id,
            inner.config.lease_ttl,
        )
        .with_deadline_at_ms(
            deadline
                .map(|d| now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        );
        let lease = inner.log.create(saga).await?;
        let phase = Phase::Forward {
            step: 0,
            attempt: 1,
        };
        guard.control.start(phase, false, inner.def.commit_point);
        Ok(Driver {
            inner,
            id,
            data,
            version: 1,
            lease,
            phase,
            deadline: deadline.map(|d| Instant::now() + d),
            in_doubt: false,
            control: Arc::clone(&guard.control),
            failure: None,
        })
    }

    /// The saga's state, current step and history.
    ///
    /// # Errors
    /// [`Error::UnknownSaga`]; log errors.
    pub async fn status(&self, id: SagaId) -> Result<SagaStatus> {
        let snapshot = self.load(id).await?;
        let inst = &snapshot.instance;
        let same_def = inst.definition == *self.inner.def.name
            && inst.definition_version == self.inner.def.version;
        let name = |i: u32| {
            self.inner
                .def
                .step_name(i as usize)
                .filter(|_| same_def)
                .map_or_else(|| format!("step {i}"), str::to_owned)
        };
        let steps = self.inner.def.steps.len();
        let current_step = if same_def {
            replay(id, &snapshot.records, steps, self.inner.def.commit_point)?
                .phase
                .current(steps)
                .map(|(i, dir)| (i, name(u32::try_from(i).unwrap_or(u32::MAX)), dir))
        } else {
            None
        };
        Ok(SagaStatus {
            id,
            definition: inst.definition.clone(),
            definition_version: inst.definition_version,
            state: inst.state,
            current_step,
            history: snapshot
                .records
                .iter()
                .map(|r| HistoryEntry::from_record(r, name))
                .collect(),
            version: inst.version,
        })
    }

    async fn load(&self, id: SagaId) -> Result<SagaSnapshot> {
        self.inner
            .log
            .load(id)
            .await?
            .ok_or(Error::UnknownSaga { saga_id: id })
    }

    /// Cancels a saga before its pivot: it compensates the steps that started and ends `Compensated`.
    ///
    /// Returns `Ok` only if the saga will compensate: it is before its commit point (the pivot, the
    /// first retriable step, or for a saga with neither, the recording of its last step's completion),
    /// or it is compensating already. A saga this executor is driving is signalled directly (a retry
    /// backoff is cut short; a running step finishes first and is then compensated). A saga in the log
    /// whose lease expired (or that this executor's owner id holds) is taken over and driven on a
    /// spawned task: compensated if the cancel was accepted, forward otherwise.
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
        let driver = self.resume(claimed, &guard)?;
        let answer = guard.control.request_cancel().await;
        let parts = Parts::from(driver);
        let this = self.clone();
        tokio::spawn(async move { parts.into_driver(&this.inner, &guard).drive().await });
        match answer {
            CancelAnswer::Accepted => Ok(()),
            CancelAnswer::Refused(reason) => Err(refused(reason)),
            // Our own guard is held by the driver just spawned.
            CancelAnswer::Released => Err(refused(CancelRefusal::PastPivot)),
        }
    }

    async fn claim_one(&self, snapshot: &SagaSnapshot) -> Result<Claimed> {
        let inner = &*self.inner;
        let inst = &snapshot.instance;
        self.check_definition(inst.id, &inst.definition, inst.definition_version)?;
        let claim = Claim::new(
            &*inner.def.name,
            inner.def.version,
            &*inner.config.owner_id,
            inner.config.lease_ttl,
            ClaimTarget::One(inst.id),
        );
        let mut batch = inner.log.claim(claim).await?;
        if let Some(corrupt) = batch.corrupt.pop() {
            return Err(LogError::Corrupt {
                saga_id: corrupt.id,
                message: corrupt.reason,
            }
            .into());
        }
        batch.claimed.pop().ok_or_else(|| Error::OwnedElsewhere {
            saga_id: inst.id,
            owner: inst.owner.clone().unwrap_or_default(),
        })
    }

    fn check_definition(&self, id: SagaId, name: &str, version: u32) -> Result<()> {
        let def = &self.inner.def;
        if name == &*def.name && version == def.version {
            Ok(())
        } else {
            Err(Error::WrongDefinition {
                saga_id: id,
                found: name.to_owned(),
                found_version: version,
                expected: def.name.to_string(),
                expected_version: def.version,
            })
        }
    }

    /// A driver for a claimed saga, holding `guard`'s slot; sets the control block from the replayed
    /// phase, so a `cancel` that arrives from now on gets the right answer.
    fn resume(&self, claimed: Claimed, guard: &RegistryGuard) -> Result<Driver<'_, D>> {
        let inner = &*self.inner;
        let inst = &claimed.snapshot.instance;
        self.check_definition(inst.id, &inst.definition, inst.definition_version)?;
        let r = replay(
            inst.id,
            &claimed.snapshot.records,
            inner.def.steps.len(),
            inner.def.commit_point,
        )?;
        let data = inner.decode(inst.id, &r.data)?;
        let deadline = inst.deadline_at_ms.map(|at| {
            let left = at.saturating_sub(now_ms());
            Instant::now() + std::time::Duration::from_millis(left)
        });
        let in_doubt = matches!(r.phase, Phase::Forward { .. });
        guard
            .control
            .start(r.phase, in_doubt, inner.def.commit_point);
        Ok(Driver {
            inner,
            id: inst.id,
            data,
            version: inst.version.max(r.version),
            lease: claimed.lease,
            phase: r.phase,
            deadline,
            in_doubt,
            control: Arc::clone(&guard.control),
            failure: r.last_error,
        })
    }

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
            let claim = Claim::new(
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
                let parts = match self.resume(claimed, &guard) {
                    Ok(driver) => Parts::from(driver),
                    Err(e @ (Error::InconsistentLog { .. } | Error::Codec { .. })) => {
                        report.corrupt.push(CorruptSaga::new(id, e.to_string()));
                        continue;
                    }
                    Err(e) => {
                        report.failed.push((id, e));
                        continue;
                    }
                };
                let this = self.clone();
                let task = tasks
                    .spawn(async move { parts.into_driver(&this.inner, &guard).drive().await });
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

    /// Operator action: tries a stuck saga again from where it gave up (its retry budget starts afresh)
    /// and drives it on the calling task.
    ///
    /// # Errors
    /// [`Error::NotStuck`], [`Error::UnknownSaga`], log errors.
    pub async fn retry(&self, id: SagaId) -> Result<SagaOutcome<D>> {
        let guard = self.reserve_stuck(id).await?;
        let snapshot = self.load_stuck(id).await?;
        let claimed = self.claim_one(&snapshot).await?;
        let mut driver = self.resume(claimed, &guard)?;
        let Phase::Stuck { step, direction } = driver.phase else {
            return Err(Error::NotStuck {
                saga_id: id,
                state: driver.phase.state(),
            });
        };
        let (state, phase) = match direction {
            crate::Direction::Forward => (SagaState::Running, Phase::Forward { step, attempt: 1 }),
            crate::Direction::Compensate => (
                SagaState::Compensating,
                Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                },
            ),
        };
        // The new phase is known before the first write: a cancel arriving during it gets its answer
        // from it (a stuck pivot or retriable step is past the commit point).
        let in_doubt = direction == crate::Direction::Forward;
        guard
            .control
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
}

impl<D: SagaData> Executor<D> {
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

/// A driver without its borrow of the executor, so it can move into a spawned task.
struct Parts<D> {
    id: SagaId,
    data: D,
    version: u64,
    lease: crate::log::Lease,
    phase: Phase,
    deadline: Option<Instant>,
    in_doubt: bool,
    failure: Option<(usize, String)>,
}

impl<D> From<Driver<'_, D>> for Parts<D> {
    fn from(d: Driver<'_, D>) -> Self {
        Self {
            id: d.id,
            data: d.data,
            version: d.version,
            lease: d.lease,
            phase: d.phase,
            deadline: d.deadline,
            in_doubt: d.in_doubt,
            failure: d.failure,
        }
    }
}

impl<D> Parts<D> {
    fn into_driver<'a>(
        self,
        inner: &'a Inner<D>,
        guard: &registry::RegistryGuard,
    ) -> Driver<'a, D> {
        Driver {
            inner,
            id: self.id,
            data: self.data,
            version: self.version,
            lease: self.lease,
            phase: self.phase,
            deadline: self.deadline,
            in_doubt: self.in_doubt,
            control: Arc::clone(&guard.control),
            failure: self.failure,
        }
    }
}
