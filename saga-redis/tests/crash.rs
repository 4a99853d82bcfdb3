//! Crashes on the Redis log, through the shared fault scenarios of `saga::testing`:
//! - the survivor scenario: two executors share one log over two connections; one dies mid-run; the
//!   survivor recovers the rest. Every saga completes exactly once and every step's effect lands once
//!   (`HSETNX` on a ledger hash is the effect and its deduplication in one command);
//! - the crash matrix: a 4-step saga crashed at every log write, before it and after it but before it
//!   returns, on every path. 5 seeds by default, `SAGA_CRASH_SEEDS` (1,000 for the figures in
//!   `docs/reliability.md`).

mod common;

use std::sync::Arc;

use saga::testing::crash_matrix::CrashMatrix;
use saga::testing::fault_scale;
use saga::testing::survivor::{EffectLedger, SurvivorScenario};
use saga::{async_trait, IdempotencyKey, SagaLog, StepError};
use saga_redis::redis;

/// One hash field per idempotency key: `HSETNX` applies the effect once.
struct HashLedger {
    conn: redis::aio::MultiplexedConnection,
    key: String,
}

#[async_trait]
impl EffectLedger for HashLedger {
    async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
        let mut conn = self.conn.clone();
        redis::cmd("HSETNX")
            .arg(&self.key)
            .arg(key.to_string())
            .arg(1)
            .query_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| StepError::transient(e.to_string()))
    }

    async fn audit(&self) -> (u64, u64) {
        let mut conn = self.conn.clone();
        let effects: u64 = redis::cmd("HLEN")
            .arg(&self.key)
            .query_async(&mut conn)
            .await
            .expect("hlen");
        // A hash holds a field once: a second application would have been refused by HSETNX.
        (effects, 0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survivor_recovers_a_dead_executors_sagas() {
    let config = common::config();
    let Some(a) = common::log(config.clone()).await else {
        return;
    };
    let _guard = common::guard(&a);
    let b = common::log(config).await.expect("second connection");
    let ledger_key = format!("{}:ledger", a.key_prefix());
    let ledger = HashLedger {
        conn: common::raw().await,
        key: ledger_key.clone(),
    };
    let report = SurvivorScenario::new()
        .with_sagas(300)
        .run(Arc::new(a), Arc::new(b.clone()), Arc::new(ledger))
        .await;
    let _: () = redis::cmd("UNLINK")
        .arg(&ledger_key)
        .query_async(&mut common::raw().await)
        .await
        .expect("unlink the ledger");
    println!("crash: {report:?}");
    assert!(
        report.recovered > 0,
        "the survivor recovered A's unfinished sagas"
    );
    let stats = b.stats();
    assert!(
        stats.claimed >= u64::try_from(report.recovered).expect("fits"),
        "{stats:?}"
    );
    common::cleanup(&b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_log_survives_a_crash_at_every_write() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    let _guard = common::guard(&log);
    let shared: Arc<dyn SagaLog> = Arc::new(log.clone());
    let report = CrashMatrix::new()
        .with_seeds(fault_scale("SAGA_CRASH_SEEDS", 5, 1000))
        .with_concurrency(8)
        .run(shared)
        .await;
    println!("crash matrix, redis log: {report}");
    report.assert_clean();
    assert!(report.crashes > 0);
    common::cleanup(&log).await;
}
