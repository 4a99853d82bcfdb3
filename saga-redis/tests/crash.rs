//! Two executors share one Redis log over two connections; one dies mid-run; the survivor recovers the
//! rest. Every saga completes exactly once and every step's effect lands in the ledger.
//!
//! Executor A writes with a lease TTL of zero, so its leases count as expired the moment it dies: the
//! survivor recovers at once instead of waiting on the clock (as the conformance suite does).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saga::log::ListQuery;
use saga::{
    async_trait, compensation_fn, Executor, ExecutorConfig, LogError, LogEvent, SagaDefinition,
    SagaId, SagaLog, SagaState, Step, StepContext, StepError,
};
use saga_redis::redis;
use serde::{Deserialize, Serialize};

const SAGAS: usize = 300;
const STEPS: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: usize,
}

/// Applies one effect per idempotency key: `HSETNX <prefix>:ledger <key>` is the effect and its
/// deduplication in one atomic command.
struct LedgerStep {
    conn: redis::aio::MultiplexedConnection,
    ledger: String,
    executions: Arc<AtomicUsize>,
}

#[async_trait]
impl Step<Order> for LedgerStep {
    async fn execute(&self, ctx: &StepContext, _data: &mut Order) -> Result<(), StepError> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        let mut conn = self.conn.clone();
        redis::cmd("HSETNX")
            .arg(&self.ledger)
            .arg(ctx.idempotency_key().to_string())
            .arg(1)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| StepError::transient(e.to_string()))
    }
}

fn definition(name: &str, step: impl Fn() -> LedgerStep) -> SagaDefinition<Order> {
    let mut b = SagaDefinition::builder(name, 1);
    for i in 0..STEPS {
        b = b.compensatable(
            format!("step-{i}"),
            step(),
            compensation_fn(|_ctx, _d: Order| async { Ok(()) }),
        );
    }
    b.build().expect("valid definition")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survivor_recovers_a_dead_executors_sagas() {
    let config = common::config();
    let Some(a) = common::log(config.clone()).await else {
        return;
    };
    let _guard = common::guard(&a);
    let b = common::log(config).await.expect("second connection");
    let prefix = a.key_prefix().to_owned();
    let ledger = format!("{prefix}:ledger");
    let conn = common::raw().await;
    let executions = Arc::new(AtomicUsize::new(0));
    let step = || LedgerStep {
        conn: conn.clone(),
        ledger: ledger.clone(),
        executions: Arc::clone(&executions),
    };
    let name = format!("crash-{}", uuid::Uuid::new_v4().simple());
    let log_b: Arc<dyn SagaLog> = Arc::new(b.clone());
    let exec_a = Executor::with_config(
        definition(&name, step),
        Arc::new(a.clone()),
        ExecutorConfig::default()
            .with_owner_id("executor-a")
            .with_lease_ttl(Duration::ZERO),
    );
    let exec_b = Executor::with_config(
        definition(&name, step),
        Arc::clone(&log_b),
        ExecutorConfig::default().with_owner_id("executor-b"),
    );
    let ids: Vec<SagaId> = (0..SAGAS).map(|_| SagaId::new()).collect();
    let done_a = Arc::new(AtomicUsize::new(0));
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (mut tasks_a, mut tasks_b) = (Vec::new(), Vec::new());
    let limit_a = Arc::new(tokio::sync::Semaphore::new(16));
    let limit_b = Arc::new(tokio::sync::Semaphore::new(16));
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
    // Let executor A finish some sagas, then kill it mid-run.
    while done_a.load(Ordering::Relaxed) < SAGAS / 10 {
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
    drop(exec_a);
    drop(a);
    let killed_after = done_a.load(Ordering::Relaxed);
    assert!(killed_after < SAGAS / 2, "A was stopped mid-run");
    for t in tasks_b {
        assert_eq!(t.await.expect("b task").state, SagaState::Completed);
    }
    // Sagas A never created are submitted again by the client (same ids); the rest wait in the log.
    for (n, id) in ids.iter().copied().enumerate().filter(|(n, _)| n % 2 == 0) {
        match exec_b.run_with_id(id, Order { n }).await {
            Ok(outcome) => assert_eq!(outcome.state, SagaState::Completed),
            Err(saga::Error::Log(LogError::Conflict { .. })) => {}
            Err(e) => panic!("resubmission failed: {e}"),
        }
    }
    let open_states = [
        SagaState::Running,
        SagaState::Compensating,
        SagaState::Stuck,
    ];
    let mut recovered = 0;
    for round in 0.. {
        let open = log_b
            .list(ListQuery::in_states(open_states, SAGAS).for_definition(&name))
            .await
            .expect("list");
        if open.is_empty() {
            break;
        }
        assert!(round < 5, "recovery made no progress: {} open", open.len());
        let report = exec_b.recover().await.expect("recover");
        assert!(
            report.corrupt.is_empty() && report.failed.is_empty(),
            "{report:?}"
        );
        recovered += report.resumed();
    }
    let mut seen = HashSet::new();
    for id in &ids {
        let snap = log_b.load(*id).await.expect("load").expect("saga exists");
        assert_eq!(snap.instance.state, SagaState::Completed, "saga {id}");
        let terminal = snap
            .records
            .iter()
            .filter(|r| matches!(r.event, LogEvent::Completed))
            .count();
        assert_eq!(terminal, 1, "saga {id} reached its terminal state once");
        assert!(seen.insert(*id));
    }
    let mut raw = common::raw().await;
    let effects: usize = redis::cmd("HLEN")
        .arg(&ledger)
        .query_async(&mut raw)
        .await
        .expect("hlen");
    let runs = executions.load(Ordering::Relaxed);
    println!(
        "crash: A completed {killed_after} before dying, B recovered {recovered}; {runs} step \
         executions, {effects} effects"
    );
    assert!(recovered > 0, "the survivor recovered A's unfinished sagas");
    assert_eq!(
        effects,
        SAGAS * STEPS as usize,
        "every step's effect landed once"
    );
    assert!(runs >= effects);
    let stats = b.stats();
    assert!(
        stats.claimed >= u64::try_from(recovered).expect("fits"),
        "{stats:?}"
    );
    let _: () = redis::cmd("UNLINK")
        .arg(&ledger)
        .query_async(&mut raw)
        .await
        .expect("unlink the ledger");
    common::cleanup(&b).await;
}
