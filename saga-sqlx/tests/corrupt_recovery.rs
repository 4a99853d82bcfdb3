//! `Executor::recover` over an SQLite log holding a corrupt saga: the pass reports it in
//! `RecoveryReport::corrupt` and completes every other abandoned saga, page after page (300 sagas in
//! batches of 100, 100 of them finished before).
#![cfg(feature = "sqlite")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use saga::log::{ListQuery, NewSaga};
use saga::{
    compensation_fn, step_fn, Executor, ExecutorConfig, SagaDefinition, SagaId, SagaLog, SagaState,
};
use saga_sqlx::SqlLogConfig;
use serde::{Deserialize, Serialize};

const DEF: &str = "corrupt-recovery";
const FINISHED: usize = 100;
const ABANDONED: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    n: usize,
}

fn definition() -> SagaDefinition<Order> {
    let mut b = SagaDefinition::builder(DEF, 1);
    for i in 0..2 {
        b = b.compensatable(
            format!("step-{i}"),
            step_fn(|_ctx, mut d: Order| async move {
                d.n += 1;
                Ok(d)
            }),
            compensation_fn(|_ctx, _d: Order| async { Ok(()) }),
        );
    }
    b.build().expect("valid definition")
}

#[tokio::test]
async fn sqlite_recovery_reports_a_corrupt_saga_and_completes_the_rest() {
    let (log, _dir) =
        common::sqlite(SqlLogConfig::default().with_table_prefix(common::prefix())).await;
    let prefix = log.table_prefix().to_owned();
    let pool = log.pool().clone();
    let log: Arc<dyn SagaLog> = Arc::new(log);
    let config = ExecutorConfig::default()
        .with_owner_id("survivor")
        .with_recovery_batch(100);
    let exec = Executor::with_config(definition(), Arc::clone(&log), config);
    for n in 0..FINISHED {
        let outcome = exec.run(Order { n }).await.expect("runs");
        assert_eq!(outcome.state, SagaState::Completed);
    }
    // Abandoned by an executor that died right after creating them (its lease long expired).
    let mut abandoned = Vec::new();
    for n in 0..ABANDONED {
        let id = SagaId::new();
        let data = Bytes::from(serde_json::to_vec(&Order { n }).expect("json"));
        log.create(NewSaga::new(id, DEF, 1, data, "dead", Duration::ZERO))
            .await
            .expect("create");
        abandoned.push(id);
    }
    let (bad, good) = abandoned.split_at(2);
    for (id, sql) in bad.iter().zip([
        "UPDATE {l} SET payload = NULL WHERE saga_id = '{id}'",
        "UPDATE {l} SET kind = 'exploded' WHERE saga_id = '{id}'",
    ]) {
        let sql = sql
            .replace("{l}", &format!("{prefix}saga_step_logs"))
            .replace("{id}", &id.to_string());
        sqlx::raw_sql(&sql).execute(&pool).await.expect("corrupt");
    }

    let report = exec.recover().await.expect("recovery is not stopped");
    let mut corrupt: Vec<SagaId> = report.corrupt.iter().map(|c| c.id).collect();
    corrupt.sort();
    let mut want = bad.to_vec();
    want.sort();
    assert_eq!(corrupt, want, "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.completed, good.len(), "{report:?}");

    let done = log
        .list(ListQuery::in_states([SagaState::Completed], 1000).for_definition(DEF))
        .await
        .expect("list");
    assert_eq!(done.len(), FINISHED + good.len());
    let running = log
        .list(ListQuery::in_states([SagaState::Running], 1000))
        .await
        .expect("list");
    assert_eq!(
        running.len(),
        bad.len(),
        "only the corrupt sagas are left running"
    );
    assert!(running.iter().all(|i| i.owner.is_none()), "and unleased");
}
