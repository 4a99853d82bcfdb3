//! The real system of a case: the executors ("processes") over one in-memory log, the tasks driving
//! sagas, the mailbox of step calls, and the wait for the state the model predicts.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::mailbox::{Mailbox, ModelStep};
use super::reference::{CallAt, Model, ATTEMPTS, TTL_MS};
use super::watch::Watched;
use crate::definition::{RetryPolicy, SagaDefinition, StepSpec};
use crate::executor::{Executor, ExecutorConfig, RecoveryReport, SagaHandle, SagaOutcome};
use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::log::{InMemoryLog, SagaLog};
use crate::testing::{CrashingLog, Journal};
use crate::Result;

/// How long (on the paused clock) the test waits for what the model predicts. The clock only gets
/// there when every task is idle and the prediction still does not hold: then it is a failure.
pub(super) const PATIENCE: Duration = Duration::from_secs(3600);

/// One executor process.
pub(super) struct Process {
    pub(super) log: Arc<CrashingLog>,
    watched: Arc<Watched>,
    pub(super) exec: Executor<u32>,
    pub(super) killed: bool,
}

/// A task driving sagas, as the test holds it.
pub(super) enum RealTask {
    Start(SagaHandle<u32>),
    Drive(JoinHandle<Result<SagaOutcome<u32>>>),
    Recover(JoinHandle<Result<RecoveryReport>>),
}

/// What a finished task returned.
pub(super) enum Finished {
    Drive(Result<SagaOutcome<u32>>),
    Recover(Result<RecoveryReport>),
    Aborted,
}

pub(super) struct World {
    pub(super) log: Arc<dyn SagaLog>,
    log_changed: Arc<Notify>,
    pub(super) mailbox: Arc<Mailbox>,
    pub(super) journal: Journal,
    pub(super) ids: Vec<SagaId>,
    pub(super) procs: Vec<Process>,
    pub(super) tasks: Vec<Option<RealTask>>,
}

impl World {
    pub(super) fn new(ids: Vec<SagaId>) -> Self {
        let mut world = Self {
            log: Arc::new(InMemoryLog::new()),
            log_changed: Arc::new(Notify::new()),
            mailbox: Arc::new(Mailbox::default()),
            journal: Journal::new(),
            ids,
            procs: Vec::new(),
            tasks: Vec::new(),
        };
        world.spawn_process(0);
        world
    }

    /// A new executor process with the owner id of `lineage`.
    pub(super) fn spawn_process(&mut self, lineage: usize) {
        let inc = self.procs.len();
        let log = Arc::new(CrashingLog::new(
            Arc::clone(&self.log),
            0,
            crate::testing::CrashPoint::BeforeWrite,
        ));
        let config = ExecutorConfig::default()
            .with_owner_id(format!("model-{lineage}"))
            .with_lease_ttl(Duration::from_millis(TTL_MS));
        // Every write attempt wakes the test, the ones the crash fails included.
        let watched = Arc::new(Watched {
            inner: log.clone(),
            changed: Arc::clone(&self.log_changed),
            writes: AtomicU64::new(0),
        });
        let exec = Executor::with_config(self.definition(inc), watched.clone(), config);
        self.procs.push(Process {
            log,
            watched,
            exec,
            killed: false,
        });
    }

    fn definition(&self, inc: usize) -> SagaDefinition<u32> {
        let step = || ModelStep {
            inc,
            mailbox: Arc::clone(&self.mailbox),
            journal: self.journal.clone(),
            log: Arc::clone(&self.log),
        };
        let no_wait = |p: RetryPolicy| {
            p.with_initial_delay(Duration::ZERO)
                .with_max_delay(Duration::ZERO)
        };
        let retry = no_wait(RetryPolicy::default().with_max_attempts(ATTEMPTS));
        let compensatable = |name: &str| {
            StepSpec::compensatable(name, step(), step())
                .with_retry(retry)
                .with_compensation_retry(retry)
        };
        SagaDefinition::builder("model", 1)
            .step(compensatable("reserve"))
            .step(compensatable("charge"))
            .step(StepSpec::pivot("ship", step()).with_retry(retry))
            .step(StepSpec::retriable("notify", step()).with_retry(no_wait(RetryPolicy::forever())))
            .build()
            .expect("the model's definition is valid")
    }

    /// Records a task at the model's index for it.
    pub(super) fn put_task(&mut self, index: usize, task: RealTask) {
        if self.tasks.len() <= index {
            self.tasks.resize_with(index + 1, || None);
        }
        self.tasks[index] = Some(task);
    }

    /// Waits for task `index` to finish (aborting it first if `abort`).
    pub(super) async fn join(&mut self, index: usize, abort: bool) -> Option<Finished> {
        let task = self.tasks.get_mut(index)?.take()?;
        let joined = async move {
            match task {
                RealTask::Start(handle) => {
                    if abort {
                        handle.abort();
                    }
                    Finished::Drive(handle.outcome().await)
                }
                RealTask::Drive(handle) => {
                    if abort {
                        handle.abort();
                    }
                    handle.await.map_or(Finished::Aborted, Finished::Drive)
                }
                RealTask::Recover(handle) => {
                    if abort {
                        handle.abort();
                    }
                    handle.await.map_or(Finished::Aborted, Finished::Recover)
                }
            }
        };
        tokio::time::timeout(PATIENCE, joined).await.ok()
    }

    /// The process `inc` dies: its log fails every call, its tasks are aborted, and the calls its
    /// steps made get no reply. Returns once the drivers it did not spawn itself (a `cancel` takeover's)
    /// made their last write attempt, which fails and ends them.
    pub(super) async fn kill(
        &mut self,
        inc: usize,
        model: &Model,
    ) -> std::result::Result<(), String> {
        self.procs[inc].log.crash_now();
        self.procs[inc].killed = true;
        for index in 0..model.tasks.len() {
            if model.tasks[index].inc == inc {
                self.join(index, true).await;
            }
        }
        let orphans = self.mailbox.drop_calls_of(inc);
        let watched = &self.procs[inc].watched;
        let until = watched.writes() + orphans;
        let wait = async {
            loop {
                let writes = self.log_changed.notified();
                if watched.writes() >= until {
                    return;
                }
                writes.await;
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .map_err(|_| format!("executor {inc}'s orphaned drivers never ended"))
    }

    /// The idempotency key of a call the model names.
    pub(super) fn key(&self, call: CallAt) -> IdempotencyKey {
        let direction = if call.compensate {
            Direction::Compensate
        } else {
            Direction::Forward
        };
        IdempotencyKey::new(
            self.ids[call.slot],
            u32::try_from(call.step).unwrap_or(u32::MAX),
            direction,
        )
    }

    /// Waits until the real system is where the model says it stops; the difference if it never is.
    pub(super) async fn settle(&self, model: &Model) -> std::result::Result<(), String> {
        let wait = async {
            loop {
                let calls = self.mailbox.changed.notified();
                let writes = self.log_changed.notified();
                if self.differs(model).await.is_none() {
                    return;
                }
                tokio::select! {
                    () = calls => {}
                    () = writes => {}
                }
            }
        };
        if tokio::time::timeout(PATIENCE, wait).await.is_ok() {
            return Ok(());
        }
        Err(self
            .differs(model)
            .await
            .unwrap_or_else(|| "the system settled only after the wait timed out".to_owned()))
    }

    /// How the real system differs from the model, if it does.
    async fn differs(&self, model: &Model) -> Option<String> {
        let mut waiting: Vec<CallAt> = {
            let seen = self.mailbox.seen.lock();
            seen.waiting
                .iter()
                .map(|w| CallAt {
                    inc: w.inc,
                    slot: self
                        .ids
                        .iter()
                        .position(|id| *id == w.key.saga_id)
                        .unwrap_or(usize::MAX),
                    step: w.key.step as usize,
                    compensate: w.key.direction == Direction::Compensate,
                    attempt: w.attempt,
                })
                .collect()
        };
        waiting.sort();
        let expected = model.pending();
        if waiting != expected {
            return Some(format!("calls waiting: {waiting:?}, model: {expected:?}"));
        }
        for (slot, id) in self.ids.iter().enumerate() {
            let want = &model.sagas[slot];
            let snapshot = match self.log.load(*id).await {
                Ok(snapshot) => snapshot,
                Err(e) => return Some(format!("saga {slot}: load failed: {e}")),
            };
            let (state, events) = snapshot.map_or((None, Vec::new()), |s| {
                let events = s.records.iter().map(|r| r.event.kind()).collect();
                (Some(s.instance.state), events)
            });
            let want_state = want.created.then(|| want.phase.state());
            if state != want_state || events != want.events {
                return Some(format!(
                    "saga {slot}: log {state:?} {events:?}, model {want_state:?} {:?}",
                    want.events
                ));
            }
        }
        for (inc, p) in self.procs.iter().enumerate() {
            if p.log.crashed() == model.incs[inc].alive {
                return Some(format!(
                    "executor {inc}: crashed {}, model alive {}",
                    p.log.crashed(),
                    model.incs[inc].alive
                ));
            }
        }
        None
    }
}
