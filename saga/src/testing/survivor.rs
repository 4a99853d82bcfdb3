//! The survivor scenario every durable log runs: two executors share one log (over two connections);
//! one dies mid-run; the survivor recovers the rest. Every saga ends `Completed` exactly once and every
//! step's effect lands once in a ledger the backend provides (its inbox, or an atomic set-if-absent).
//!
//! The dying executor writes with a lease TTL of zero, so its leases are expired the moment it dies:
//! the survivor recovers at once, with no wait on any clock.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::definition::SagaDefinition;
use crate::executor::{Executor, ExecutorConfig};
use crate::id::{IdempotencyKey, SagaId};
use crate::log::{ListQuery, LogError, LogEvent, SagaLog, SagaState};
use crate::step::{compensation_fn, Step, StepContext, StepError};

/// Where the scenario's steps apply their effects: once per idempotency key, atomically with the
/// deduplication (an inbox row in the same transaction, `HSETNX`, ...).
#[async_trait]
pub trait EffectLedger: Send + Sync + 'static {
    /// Applies the effect of `key` unless it was applied before.
    async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError>;
    /// `(effects stored, keys stored more than once)`.
    async fn audit(&self) -> (u64, u64);
}

/// What the scenario measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SurvivorReport {
    /// Sagas the dying executor completed before it died.
    pub completed_before_death: usize,
    /// Sagas the survivor took over through `recover()`.
    pub recovered: usize,
    /// Step executions, re-executions included.
    pub executions: usize,
    /// Effects in the ledger.
    pub effects: u64,
}

/// The scenario's size; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct SurvivorScenario {
    sagas: usize,
    steps: u32,
    concurrency: usize,
}

impl Default for SurvivorScenario {
    /// 300 sagas of 3 steps, 16 in flight per executor.
    fn default() -> Self {
        Self {
            sagas: 300,
            steps: 3,
            concurrency: 16,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: usize,
}

struct LedgerStep {
    ledger: Arc<dyn EffectLedger>,
    executions: Arc<AtomicUsize>,
}

#[async_trait]
impl Step<Order> for LedgerStep {
    async fn execute(&self, ctx: &StepContext, _data: &mut Order) -> Result<(), StepError> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        self.ledger.apply(ctx.idempotency_key()).await
    }
}

impl SurvivorScenario {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sagas to run (at least 20).
    pub fn with_sagas(mut self, sagas: usize) -> Self {
        self.sagas = sagas.max(20);
        self
    }

    /// Steps per saga.
    pub fn with_steps(mut self, steps: u32) -> Self {
        self.steps = steps.max(1);
        self
    }

    /// Sagas in flight per executor.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    fn definition(
        &self,
        name: &str,
        ledger: &Arc<dyn EffectLedger>,
        executions: &Arc<AtomicUsize>,
    ) -> SagaDefinition<Order> {
        let mut b = SagaDefinition::builder(name, 1);
        for i in 0..self.steps {
            let step = LedgerStep {
                ledger: Arc::clone(ledger),
                executions: Arc::clone(executions),
            };
            b = b.compensatable(
                format!("step-{i}"),
                step,
                compensation_fn(|_ctx, _d: Order| async { Ok(()) }),
            );
        }
        b.build().expect("a valid definition")
    }

    /// Runs the scenario: `log_a` belongs to the executor that dies, `log_b` to the survivor; both
    /// write effects to `ledger`. Call it from a multi-threaded tokio runtime.
    ///
    /// # Panics
    /// When the saga contract is broken: a saga not completed, completed twice, an effect missing or
    /// applied twice.
    pub async fn run(
        &self,
        log_a: Arc<dyn SagaLog>,
        log_b: Arc<dyn SagaLog>,
        ledger: Arc<dyn EffectLedger>,
    ) -> SurvivorReport {
        let name = format!("survivor-{}", uuid::Uuid::new_v4().simple());
        let executions = Arc::new(AtomicUsize::new(0));
        let exec_a = Executor::with_config(
            self.definition(&name, &ledger, &executions),
            log_a,
            ExecutorConfig::default()
                .with_owner_id("executor-a")
                .with_lease_ttl(Duration::ZERO),
        );
        let exec_b = Executor::with_config(
            self.definition(&name, &ledger, &executions),
            Arc::clone(&log_b),
            ExecutorConfig::default().with_owner_id("executor-b"),
        );
        let ids: Vec<SagaId> = (0..self.sagas).map(|_| SagaId::new()).collect();
        let completed_before_death = self.kill_a_mid_run(&exec_a, &exec_b, &ids).await;
        drop(exec_a);

        // Sagas A never created are submitted again by the client (same ids); the rest wait in the log.
        for (n, id) in ids.iter().copied().enumerate().filter(|(n, _)| n % 2 == 0) {
            match exec_b.run_with_id(id, Order { n }).await {
                Ok(outcome) => assert_eq!(outcome.state, SagaState::Completed),
                Err(crate::Error::Log(LogError::Conflict { .. })) => {}
                Err(e) => panic!("resubmission failed: {e}"),
            }
        }
        let recovered = recover_all(&exec_b, &log_b, &name, self.sagas).await;
        check_terminal_once(&log_b, &ids).await;
        let (effects, duplicated) = ledger.audit().await;
        let executions = executions.load(Ordering::Relaxed);
        let expected = u64::try_from(self.sagas).unwrap_or(u64::MAX) * u64::from(self.steps);
        assert_eq!(duplicated, 0, "no effect applied twice");
        assert_eq!(effects, expected, "every step's effect landed once");
        assert!(u64::try_from(executions).unwrap_or(u64::MAX) >= effects);
        SurvivorReport {
            completed_before_death,
            recovered,
            executions,
            effects,
        }
    }

    /// Runs even sagas on A and odd ones on B; kills A after a tenth of its share has completed.
    async fn kill_a_mid_run(
        &self,
        exec_a: &Executor<Order>,
        exec_b: &Executor<Order>,
        ids: &[SagaId],
    ) -> usize {
        let done_a = Arc::new(AtomicUsize::new(0));
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (mut tasks_a, mut tasks_b) = (Vec::new(), Vec::new());
        let limit_a = Arc::new(tokio::sync::Semaphore::new(self.concurrency));
        let limit_b = Arc::new(tokio::sync::Semaphore::new(self.concurrency));
        for (n, id) in ids.iter().copied().enumerate() {
            if n % 2 == 0 {
                let (exec, limit, done, progress) = (
                    exec_a.clone(),
                    Arc::clone(&limit_a),
                    Arc::clone(&done_a),
                    progress_tx.clone(),
                );
                tasks_a.push(tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    exec.run_with_id(id, Order { n }).await.expect("a runs");
                    done.fetch_add(1, Ordering::Relaxed);
                    let _ = progress.send(());
                }));
            } else {
                let (exec, limit) = (exec_b.clone(), Arc::clone(&limit_b));
                tasks_b.push(tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    exec.run_with_id(id, Order { n }).await.expect("b runs")
                }));
            }
        }
        drop(progress_tx);
        while done_a.load(Ordering::Relaxed) < self.sagas / 10 {
            if progress_rx.recv().await.is_none() {
                break;
            }
        }
        for t in &tasks_a {
            t.abort();
        }
        for t in tasks_a {
            drop(t.await);
        }
        let killed_after = done_a.load(Ordering::Relaxed);
        assert!(killed_after < self.sagas / 2, "A was stopped mid-run");
        for t in tasks_b {
            assert_eq!(t.await.expect("b task").state, SagaState::Completed);
        }
        killed_after
    }
}

/// Recovers until no saga of the definition is open; A's leases are already expired.
async fn recover_all(
    exec: &Executor<Order>,
    log: &Arc<dyn SagaLog>,
    name: &str,
    sagas: usize,
) -> usize {
    let open_states = [
        SagaState::Running,
        SagaState::Compensating,
        SagaState::Stuck,
    ];
    let mut recovered = 0;
    for round in 0.. {
        let open = log
            .list(ListQuery::in_states(open_states, sagas).for_definition(name))
            .await
            .expect("list");
        if open.is_empty() {
            break;
        }
        assert!(round < 5, "recovery made no progress: {} open", open.len());
        let report = exec.recover().await.expect("recover");
        assert!(
            report.corrupt.is_empty() && report.failed.is_empty(),
            "{report:?}"
        );
        recovered += report.resumed();
    }
    recovered
}

async fn check_terminal_once(log: &Arc<dyn SagaLog>, ids: &[SagaId]) {
    let mut seen = HashSet::new();
    for id in ids {
        let snap = log.load(*id).await.expect("load").expect("saga exists");
        assert_eq!(snap.instance.state, SagaState::Completed, "saga {id}");
        let terminal = snap
            .records
            .iter()
            .filter(|r| matches!(r.event, LogEvent::Completed))
            .count();
        assert_eq!(terminal, 1, "saga {id} reached its terminal state once");
        assert!(seen.insert(*id));
    }
}
