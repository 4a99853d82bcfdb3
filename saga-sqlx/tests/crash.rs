//! Two executors share one log; one dies mid-run; the survivor recovers the rest. Every saga ends
//! exactly once and the ledger (written through the inbox in the step's own transaction) shows no effect
//! applied twice.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saga::log::ListQuery;
use saga::{
    async_trait, compensation_fn, Executor, ExecutorConfig, IdempotencyKey, LogError, LogEvent,
    SagaDefinition, SagaId, SagaLog, SagaState, Step, StepContext, StepError,
};
use serde::{Deserialize, Serialize};

const SAGAS: usize = 1000;
const STEPS: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: usize,
}

/// Applies one effect per idempotency key, in the same transaction as the inbox record.
#[async_trait]
trait Ledger: Send + Sync + 'static {
    async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError>;
    /// (ledger rows, keys with more than one row)
    async fn audit(&self) -> (i64, i64);
}

struct LedgerStep {
    ledger: Arc<dyn Ledger>,
    executions: Arc<AtomicUsize>,
}

#[async_trait]
impl Step<Order> for LedgerStep {
    async fn execute(&self, ctx: &StepContext, _data: &mut Order) -> Result<(), StepError> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        self.ledger.apply(ctx.idempotency_key()).await
    }
}

fn definition(
    name: &str,
    ledger: Arc<dyn Ledger>,
    executions: &Arc<AtomicUsize>,
) -> SagaDefinition<Order> {
    let mut b = SagaDefinition::builder(name, 1);
    for i in 0..STEPS {
        b = b.compensatable(
            format!("step-{i}"),
            LedgerStep {
                ledger: Arc::clone(&ledger),
                executions: Arc::clone(executions),
            },
            compensation_fn(|_ctx, _d: Order| async { Ok(()) }),
        );
    }
    b.build().expect("valid definition")
}

/// Runs the scenario: `log_a`/`ledger_a` belong to the executor that dies.
async fn scenario(
    log_a: Arc<dyn SagaLog>,
    ledger_a: Arc<dyn Ledger>,
    log_b: Arc<dyn SagaLog>,
    ledger_b: Arc<dyn Ledger>,
) {
    let name = format!("crash-{}", uuid::Uuid::new_v4().simple());
    let executions = Arc::new(AtomicUsize::new(0));
    let ttl = Duration::from_millis(800);
    let exec_a = Executor::with_config(
        definition(&name, ledger_a, &executions),
        log_a,
        ExecutorConfig::default()
            .with_owner_id("executor-a")
            .with_lease_ttl(ttl),
    );
    let exec_b = Executor::with_config(
        definition(&name, ledger_b.clone(), &executions),
        Arc::clone(&log_b),
        ExecutorConfig::default()
            .with_owner_id("executor-b")
            .with_lease_ttl(ttl),
    );
    let ids: Vec<SagaId> = (0..SAGAS).map(|_| SagaId::new()).collect();
    let done_a = Arc::new(AtomicUsize::new(0));
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks_a = Vec::new();
    let mut tasks_b = Vec::new();
    let limit_a = Arc::new(tokio::sync::Semaphore::new(32));
    let limit_b = Arc::new(tokio::sync::Semaphore::new(32));
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
    let killed_after = done_a.load(Ordering::Relaxed);
    assert!(killed_after < SAGAS / 2, "A was stopped mid-run");
    for t in tasks_b {
        let outcome = t.await.expect("b task");
        assert_eq!(outcome.state, SagaState::Completed);
    }
    // Sagas A never created are submitted again by the client (same ids); the rest wait in the log.
    for (n, id) in ids.iter().copied().enumerate().filter(|(n, _)| n % 2 == 0) {
        match exec_b.run_with_id(id, Order { n }).await {
            Ok(outcome) => assert_eq!(outcome.state, SagaState::Completed),
            Err(saga::Error::Log(LogError::Conflict { .. })) => {}
            Err(e) => panic!("resubmission failed: {e}"),
        }
    }
    // A's leases expire on the database clock; recover until nothing is left.
    let mut rounds = 0;
    loop {
        let open = log_b
            .list(
                ListQuery::in_states(
                    [
                        SagaState::Running,
                        SagaState::Compensating,
                        SagaState::Stuck,
                    ],
                    SAGAS,
                )
                .for_definition(&name),
            )
            .await
            .expect("list");
        if open.is_empty() {
            break;
        }
        rounds += 1;
        assert!(
            rounds < 600,
            "recovery made no progress: {} open",
            open.len()
        );
        let report = exec_b.recover().await.expect("recover");
        if report.resumed() == 0 {
            // Leases still live: wait for the database clock to pass them.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
    let (rows, duplicated) = ledger_b.audit().await;
    let raw = executions.load(Ordering::Relaxed);
    println!(
        "crash: A completed {killed_after} before dying; {raw} raw step executions, {rows} ledger rows"
    );
    assert_eq!(duplicated, 0, "no effect applied twice");
    assert_eq!(rows, i64::try_from(SAGAS).expect("fits") * i64::from(STEPS));
    assert!(raw >= SAGAS * STEPS as usize);
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use saga_sqlx::{Inbox, InboxOutcome, PostgresSagaLog, SqlLogConfig};

    pub(super) struct PgLedger {
        pub(super) pool: sqlx::PgPool,
        pub(super) inbox: Inbox<sqlx::Postgres>,
        pub(super) table: String,
    }

    #[async_trait]
    impl Ledger for PgLedger {
        async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
            let t = |e: saga_sqlx::Error| StepError::transient(e.to_string());
            let mut tx = self.pool.begin().await.map_err(|e| t(e.into()))?;
            if self
                .inbox
                .record_in_tx(&mut tx, &key, b"ok")
                .await
                .map_err(t)?
                == InboxOutcome::FirstTime
            {
                sqlx::query(&format!(
                    "INSERT INTO {} (idem_key) VALUES ($1)",
                    self.table
                ))
                .bind(key.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| t(e.into()))?;
            }
            tx.commit().await.map_err(|e| t(e.into()))
        }

        async fn audit(&self) -> (i64, i64) {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", self.table))
                .fetch_one(&self.pool)
                .await
                .expect("count");
            let dup: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM (SELECT idem_key FROM {} GROUP BY idem_key HAVING count(*) > 1) d",
                self.table
            ))
            .fetch_one(&self.pool)
            .await
            .expect("dups");
            (rows, dup)
        }
    }

    async fn ledger(log: &PostgresSagaLog, prefix: &str) -> Arc<dyn Ledger> {
        let table = format!("{prefix}ledger");
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, idem_key TEXT NOT NULL)"
        ))
        .execute(log.pool())
        .await
        .expect("ledger table");
        Arc::new(PgLedger {
            pool: log.pool().clone(),
            inbox: log.inbox("ledger"),
            table,
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_survivor_recovers_a_dead_executors_sagas() {
        let prefix = common::prefix();
        let config = || {
            SqlLogConfig::default()
                .with_table_prefix(&prefix)
                .with_max_connections(16)
        };
        let Some(a) = common::postgres(config()).await else {
            return;
        };
        let b = common::postgres(config()).await.expect("second pool");
        let (la, lb) = (ledger(&a, &prefix).await, ledger(&b, &prefix).await);
        scenario(Arc::new(a), la, Arc::new(b.clone()), lb).await;
        sqlx::query(&format!("DROP TABLE {prefix}ledger"))
            .execute(b.pool())
            .await
            .expect("drop the ledger");
        b.drop_tables().await.expect("drop");
    }
}

#[cfg(feature = "sqlite")]
mod lite {
    use super::*;
    use saga_sqlx::{Inbox, InboxOutcome, SqlLogConfig, SqliteSagaLog};

    struct LiteLedger {
        pool: sqlx::SqlitePool,
        inbox: Inbox<sqlx::Sqlite>,
    }

    #[async_trait]
    impl Ledger for LiteLedger {
        async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
            let t = |e: saga_sqlx::Error| StepError::transient(e.to_string());
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| t(e.into()))?;
            if self
                .inbox
                .record_in_tx(&mut tx, &key, b"ok")
                .await
                .map_err(t)?
                == InboxOutcome::FirstTime
            {
                sqlx::query("INSERT INTO ledger (idem_key) VALUES (?1)")
                    .bind(key.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| t(e.into()))?;
            }
            tx.commit().await.map_err(|e| t(e.into()))
        }

        async fn audit(&self) -> (i64, i64) {
            let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger")
                .fetch_one(&self.pool)
                .await
                .expect("count");
            let dup: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT idem_key FROM ledger GROUP BY idem_key HAVING count(*) > 1)",
            )
            .fetch_one(&self.pool)
            .await
            .expect("dups");
            (rows, dup)
        }
    }

    async fn ledger(log: &SqliteSagaLog) -> Arc<dyn Ledger> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL)",
        )
        .execute(log.pool())
        .await
        .expect("ledger table");
        Arc::new(LiteLedger {
            pool: log.pool().clone(),
            inbox: log.inbox("ledger"),
        })
    }

    /// Two "processes" (two logs, two connections) on one SQLite file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_survivor_recovers_a_dead_executors_sagas() {
        let dir = common::TempDir::new();
        let url = format!("sqlite://{}", dir.path.join("crash.db").display());
        let config = SqlLogConfig::default().with_busy_timeout(Duration::from_secs(30));
        let a = SqliteSagaLog::connect(&url, config.clone())
            .await
            .expect("a");
        let b = SqliteSagaLog::connect(&url, config).await.expect("b");
        let (la, lb) = (ledger(&a).await, ledger(&b).await);
        scenario(Arc::new(a), la, Arc::new(b), lb).await;
    }
}
