//! Crashes on the SQL logs, through the shared fault scenarios of `saga::testing`:
//! - the survivor scenario: two executors share one log; one dies mid-run; the survivor recovers the
//!   rest. Every saga ends exactly once and the ledger (written through the inbox in the step's own
//!   transaction) shows no effect applied twice;
//! - the crash matrix (SQLite, and PostgreSQL when reachable): a 4-step saga crashed at every log
//!   write, before it and after it but before it returns, on every path. A few seeds by default,
//!   `SAGA_CRASH_SEEDS` for more (1,000 for the figures in `docs/reliability.md`).
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use saga::testing::crash_matrix::CrashMatrix;
use saga::testing::fault_scale;
use saga::testing::survivor::{EffectLedger, SurvivorScenario};
use saga::{async_trait, IdempotencyKey, SagaLog, StepError};

const SAGAS: usize = 1000;

fn transient(e: impl Into<saga_sqlx::Error>) -> StepError {
    StepError::transient(e.into().to_string())
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use saga_sqlx::{Inbox, InboxOutcome, SqlLogConfig};

    struct PgLedger {
        pool: sqlx::PgPool,
        inbox: Inbox<sqlx::Postgres>,
        table: String,
    }

    #[async_trait]
    impl EffectLedger for PgLedger {
        async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
            let mut tx = self.pool.begin().await.map_err(transient)?;
            let first = self.inbox.record_in_tx(&mut tx, &key, b"ok").await;
            if first.map_err(transient)? == InboxOutcome::FirstTime {
                sqlx::query(&format!(
                    "INSERT INTO {} (idem_key) VALUES ($1)",
                    self.table
                ))
                .bind(key.to_string())
                .execute(&mut *tx)
                .await
                .map_err(transient)?;
            }
            tx.commit().await.map_err(transient)
        }

        async fn audit(&self) -> (u64, u64) {
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
            (rows.unsigned_abs(), dup.unsigned_abs())
        }
    }

    fn config(prefix: &str) -> SqlLogConfig {
        SqlLogConfig::default()
            .with_table_prefix(prefix)
            .with_max_connections(16)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_survivor_recovers_a_dead_executors_sagas() {
        let prefix = common::prefix();
        let Some(a) = common::postgres(config(&prefix)).await else {
            return;
        };
        let b = common::postgres(config(&prefix))
            .await
            .expect("second pool");
        let table = format!("{prefix}ledger");
        sqlx::query(&format!(
            "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, idem_key TEXT NOT NULL)"
        ))
        .execute(b.pool())
        .await
        .expect("ledger table");
        // The ledger (the participant's effect, recorded with its inbox key in one transaction) has a
        // pool of its own, as saga-sqlx's docs advise: A's aborted steps cancel `begin()` futures
        // mid-flight, and with sqlx 0.8.4-0.9.0 a `begin()` cancelled on PostgreSQL leaves its pooled
        // connection inside a transaction nobody ends (sqlx issues #4385/#4393). On the log's own pool
        // that connection then ran B's log writes, acknowledged and never committed (this test caught it
        // as B's `VersionMismatch { expected: 3, actual: 2 }`).
        let ledger_pool = sqlx::PgPool::connect(&common::postgres_url())
            .await
            .expect("ledger pool");
        let ledger = PgLedger {
            pool: ledger_pool.clone(),
            inbox: b.inbox("ledger"),
            table: table.clone(),
        };
        let report = SurvivorScenario::new()
            .with_sagas(SAGAS)
            .with_concurrency(32)
            .run(Arc::new(a), Arc::new(b.clone()), Arc::new(ledger))
            .await;
        println!("crash: {report:?}");
        sqlx::query(&format!("DROP TABLE {table}"))
            .execute(b.pool())
            .await
            .expect("drop the ledger");
        b.drop_tables().await.expect("drop");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_log_survives_a_crash_at_every_write() {
        let Some(log) = common::postgres(config(&common::prefix())).await else {
            return;
        };
        let shared: Arc<dyn SagaLog> = Arc::new(log.clone());
        let report = CrashMatrix::new()
            .with_seeds(fault_scale("SAGA_CRASH_SEEDS", 2, 1000))
            .with_concurrency(8)
            .run(shared)
            .await;
        println!("crash matrix, postgres log: {report}");
        log.drop_tables().await.expect("drop");
        report.assert_clean();
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
    impl EffectLedger for LiteLedger {
        /// The transaction runs to completion on a task of its own, as a SQLite participant's must
        /// when its future can be dropped (here: the dying executor's aborted steps): on SQLite one
        /// write transaction left open on any connection locks the whole database.
        async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
            let (pool, inbox) = (self.pool.clone(), self.inbox.clone());
            let applied = tokio::spawn(async move {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(transient)?;
                let first = inbox.record_in_tx(&mut tx, &key, b"ok").await;
                if first.map_err(transient)? == InboxOutcome::FirstTime {
                    sqlx::query("INSERT INTO ledger (idem_key) VALUES (?1)")
                        .bind(key.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(transient)?;
                }
                tx.commit().await.map_err(transient)
            });
            applied
                .await
                .map_err(|e| StepError::transient(e.to_string()))?
        }

        async fn audit(&self) -> (u64, u64) {
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
            (rows.unsigned_abs(), dup.unsigned_abs())
        }
    }

    fn config() -> SqlLogConfig {
        SqlLogConfig::default().with_busy_timeout(Duration::from_secs(30))
    }

    /// Two "processes" (two logs, two connections) on one SQLite file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_survivor_recovers_a_dead_executors_sagas() {
        let dir = common::TempDir::new();
        let url = format!("sqlite://{}", dir.path.join("crash.db").display());
        let a = SqliteSagaLog::connect(&url, config()).await.expect("a");
        let b = SqliteSagaLog::connect(&url, config()).await.expect("b");
        sqlx::query("CREATE TABLE ledger (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL)")
            .execute(b.pool())
            .await
            .expect("ledger table");
        let ledger = LiteLedger {
            pool: b.pool().clone(),
            inbox: b.inbox("ledger"),
        };
        let report = SurvivorScenario::new()
            .with_sagas(SAGAS)
            .with_concurrency(32)
            .run(Arc::new(a), Arc::new(b), Arc::new(ledger))
            .await;
        println!("crash: {report:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_log_survives_a_crash_at_every_write() {
        let (log, _dir) = common::sqlite(config()).await;
        let report = CrashMatrix::new()
            .with_seeds(fault_scale("SAGA_CRASH_SEEDS", 3, 1000))
            .with_concurrency(4)
            .run(Arc::new(log))
            .await;
        println!("crash matrix, sqlite log: {report}");
        report.assert_clean();
    }
}
