//! `drop_tables` removes a prefix's tables, and `migrate` brings them back empty; a log whose drop was
//! interrupted (some tables gone, the migration record still there) heals on the next `connect`.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use saga::log::{ListQuery, NewSaga};
use saga::participant::{Claim, IdempotencyStore};
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
    drop().await.expect("clean up");
}

fn new_saga() -> NewSaga {
    NewSaga::new(
        SagaId::new(),
        "heal",
        1,
        Bytes::from_static(b"{}"),
        "o",
        std::time::Duration::from_secs(60),
    )
}

/// The raw SQL of a `drop_tables` interrupted the way the old order (step logs, inbox, instances,
/// migrations) could leave it: two tables gone, the migration record still there.
fn interrupted(prefix: &str) -> String {
    format!("DROP TABLE {prefix}saga_step_logs; DROP TABLE {prefix}saga_inbox")
}

/// After an interrupted drop and a new `connect` on the same prefix, `log` writes, reads and dedupes
/// again.
async fn heals<L: SagaLog, S: IdempotencyStore>(log: &L, inbox: &S) {
    let saga = new_saga();
    let id = saga.id;
    log.create(saga).await.expect("create after healing");
    let loaded = log.load(id).await.expect("load").expect("stored");
    assert_eq!(loaded.records.len(), 1, "its Started record");
    let lease = std::time::Duration::from_secs(60);
    assert_eq!(
        inbox.claim("p", "k", lease).await.ok(),
        Some(Claim::Acquired),
        "the inbox is back"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_heals_after_an_interrupted_drop() {
    let (log, dir) = common::sqlite(config()).await;
    log.create(new_saga()).await.expect("create");
    sqlx::raw_sql(&interrupted(log.table_prefix()))
        .execute(log.pool())
        .await
        .expect("drop two tables");
    let url = format!("sqlite://{}", dir.path.join("saga.db").display());
    let config = SqlLogConfig::default().with_table_prefix(log.table_prefix());
    drop(log);
    let log = saga_sqlx::SqliteSagaLog::connect(&url, config)
        .await
        .expect("reconnect");
    heals(&log, &log.inbox("p")).await;
}

/// Interrupts a drop of a server log (`$open`: `common::postgres` or `common::mysql`), then shows that
/// a new `connect` on the same prefix heals it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! server_heals {
    ($open:path) => {{
        let Some(log) = $open(config()).await else {
            return;
        };
        log.create(new_saga()).await.expect("create");
        sqlx::raw_sql(&interrupted(log.table_prefix()))
            .execute(log.pool())
            .await
            .expect("drop two tables");
        let config = SqlLogConfig::default().with_table_prefix(log.table_prefix());
        let log = $open(config).await.expect("reconnect");
        heals(&log, &log.inbox("p")).await;
        log.drop_tables().await.expect("drop");
    }};
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_heals_after_an_interrupted_drop() {
    server_heals!(common::postgres);
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_heals_after_an_interrupted_drop() {
    server_heals!(common::mysql);
}

#[cfg(feature = "sqlite")]
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
