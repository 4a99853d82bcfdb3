//! A write whose caller goes away mid-flight (an aborted saga driver, a timeout around it) never
//! leaves the log stuck: the write runs to completion on its own task, so no transaction is left open
//! on a pooled connection. Before, a `create` dropped while its `BEGIN IMMEDIATE` was in flight could
//! keep SQLite's write lock for good, and every later write waited (the survivor crash test hung).

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::NewSaga;
use saga::{SagaId, SagaLog};
use saga_sqlx::SqlLogConfig;

/// Starts a `create` and drops it after `polls` polls.
async fn abandon_a_create(log: &dyn SagaLog, polls: usize) {
    common::drop_after_polls(log.create(new_saga(SagaId::new())), polls).await;
}

fn new_saga(id: SagaId) -> NewSaga {
    NewSaga::new(
        id,
        "abandoned",
        1,
        Bytes::from_static(b"{}"),
        "o",
        Duration::from_secs(30),
    )
}

/// Abandons creates at 60 points of their progress; after each, a create must still go through and
/// be read back.
async fn abandoned_writes_never_block_the_next(log: &dyn SagaLog) {
    for polls in 1..=60 {
        abandon_a_create(log, polls).await;
        let id = SagaId::new();
        let created = tokio::time::timeout(Duration::from_secs(20), log.create(new_saga(id))).await;
        assert!(
            matches!(created, Ok(Ok(_))),
            "after a create abandoned at poll {polls}, the next create gave {created:?}"
        );
        assert!(log.load(id).await.expect("load").is_some());
    }
}

/// A short busy timeout, so a write lock left behind shows as an error rather than a long wait.
fn lite_config() -> SqlLogConfig {
    SqlLogConfig::default().with_busy_timeout(Duration::from_secs(2))
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_batching() {
    let (log, _dir) = common::sqlite(lite_config()).await;
    abandoned_writes_never_block_the_next(&log).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_without_batching() {
    let (log, _dir) = common::sqlite(lite_config().without_batching()).await;
    abandoned_writes_never_block_the_next(&log).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_without_batching() {
    let config = SqlLogConfig::default()
        .with_table_prefix(common::prefix())
        .with_max_connections(2)
        .without_batching();
    let Some(log) = common::mysql(config).await else {
        return;
    };
    abandoned_writes_never_block_the_next(&log).await;
    log.drop_tables().await.expect("drop");
}
