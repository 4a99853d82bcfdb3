//! The shared `SagaLog` conformance suite against every backend, plain and behind group commit.

mod common;

use std::sync::Arc;

use saga::testing::conformance::log::run_all;
use saga_sqlx::{GroupCommitConfig, GroupCommitLog, SqlLogConfig};

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    run_all(Arc::new(log.clone())).await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_group_commit_conforms() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    run_all(Arc::new(GroupCommitLog::new(
        log.clone(),
        GroupCommitConfig::default(),
    )))
    .await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_conforms() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    run_all(Arc::new(log.clone())).await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_group_commit_conforms() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    run_all(Arc::new(GroupCommitLog::new(
        log.clone(),
        GroupCommitConfig::default(),
    )))
    .await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let (log, _dir) = common::sqlite(config()).await;
    run_all(Arc::new(log)).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_group_commit_conforms() {
    let (log, _dir) = common::sqlite(config()).await;
    run_all(Arc::new(GroupCommitLog::new(
        log,
        GroupCommitConfig::default(),
    )))
    .await;
}
