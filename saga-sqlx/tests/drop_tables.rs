//! `drop_tables` removes a prefix's tables, and `migrate` brings them back empty.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use saga::log::{ListQuery, NewSaga};
use saga::{SagaId, SagaLog};
use saga_sqlx::SqlLogConfig;

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

/// Writes a saga, drops the tables, checks the log fails, re-migrates, checks it is empty.
async fn check<L: SagaLog>(
    log: Arc<L>,
    drop: impl AsyncFn() -> saga_sqlx::Result<()>,
    migrate: impl AsyncFnOnce() -> saga_sqlx::Result<()>,
) {
    let saga = NewSaga::new(
        SagaId::new(),
        "drop",
        1,
        Bytes::from_static(b"{}"),
        "o",
        std::time::Duration::from_secs(60),
    );
    log.create(saga).await.expect("create");
    assert_eq!(
        log.list(ListQuery::in_states([], 10))
            .await
            .expect("list")
            .len(),
        1
    );
    drop().await.expect("drop tables");
    assert!(
        log.list(ListQuery::in_states([], 10)).await.is_err(),
        "the tables are gone"
    );
    drop().await.expect("dropping again is a no-op");
    migrate().await.expect("migrate again");
    assert!(log
        .list(ListQuery::in_states([], 10))
        .await
        .expect("list")
        .is_empty());
}

#[tokio::test]
async fn sqlite_drops_its_tables() {
    let (log, _dir) = common::sqlite(config()).await;
    let log = Arc::new(log);
    check(
        Arc::clone(&log),
        async || log.drop_tables().await,
        async || log.migrate().await,
    )
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_drops_its_tables() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    let log = Arc::new(log);
    check(
        Arc::clone(&log),
        async || log.drop_tables().await,
        async || log.migrate().await,
    )
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_drops_its_tables() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    let log = Arc::new(log);
    check(
        Arc::clone(&log),
        async || log.drop_tables().await,
        async || log.migrate().await,
    )
    .await;
}
