//! Why handlers must not share the log's pool on PostgreSQL (the saga-sqlx README, "The participant
//! inbox"): with sqlx 0.8.4–0.9.0 a `begin()` cancelled while its `BEGIN` is in flight returns the
//! connection to its pool inside a transaction nothing ends (sqlx#4385, sqlx#4393). The first test shows
//! the hazard on a shared pool: the log's next write is acknowledged but not committed. It is a canary:
//! when it fails, sqlx has shipped the fix, and the advice (and this test) can go. The second shows the
//! advice works: a begin cancelled on the handlers' own pool costs the log nothing.

#![cfg(feature = "postgres")]

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::NewSaga;
use saga::{SagaId, SagaLog};
use saga_sqlx::{sqlx, PostgresSagaLog, SqlLogConfig};
use sqlx::Connection as _;

/// Starts `pool.begin()` and drops it after `polls` polls; `true` if it had not finished.
async fn cancel_a_begin(pool: &sqlx::PgPool, polls: usize) -> bool {
    common::drop_after_polls(pool.begin(), polls).await
}

/// A log on a pool of one connection (so the next write must use the connection the cancelled begin
/// left behind), writing without batching.
async fn log_of_one_connection() -> Option<PostgresSagaLog> {
    let config = SqlLogConfig::default()
        .with_table_prefix(common::prefix())
        .with_max_connections(1)
        .without_batching();
    common::postgres(config).await
}

/// Whether a fresh connection (outside every pool) sees saga `id`.
async fn committed(log: &PostgresSagaLog, id: SagaId) -> bool {
    let mut conn = sqlx::PgConnection::connect(&common::postgres_url())
        .await
        .expect("fresh connection");
    let q = format!(
        "SELECT COUNT(*) FROM {}saga_instances WHERE id = $1",
        log.table_prefix()
    );
    let n: i64 = sqlx::query_scalar(&q)
        .bind(id.as_uuid())
        .fetch_one(&mut conn)
        .await
        .expect("count");
    n == 1
}

fn new_saga(id: SagaId) -> NewSaga {
    NewSaga::new(
        id,
        "cancelled-begin",
        1,
        Bytes::from_static(b"{}"),
        "o",
        Duration::from_secs(30),
    )
}

/// Opt-in (`SAGA_SQLX_CANARY=1`), because it depends on hitting the window in which the `BEGIN` is on
/// the wire: it sweeps the cancellation point over a `begin()` and reports whether any point left the
/// log's next write acknowledged but uncommitted.
#[tokio::test]
async fn a_begin_cancelled_on_the_logs_pool_can_swallow_its_next_write() {
    if std::env::var("SAGA_SQLX_CANARY").as_deref() != Ok("1") {
        return;
    }
    let mut swallowed = 0;
    for polls in 1..=60usize {
        let Some(log) = log_of_one_connection().await else {
            return;
        };
        let id = SagaId::new();
        let cancelled = cancel_a_begin(log.pool(), polls).await;
        log.create(new_saga(id))
            .await
            .expect("the write is acknowledged");
        if cancelled && !committed(&log, id).await {
            swallowed += 1;
        }
        let prefix = log.table_prefix().to_owned();
        // Closing the poisoned connection rolls the stale transaction (and the write) back.
        log.pool().close().await;
        let reopened = PostgresSagaLog::connect(
            &common::postgres_url(),
            SqlLogConfig::default().with_table_prefix(prefix),
        )
        .await
        .expect("reopen");
        reopened.drop_tables().await.expect("drop");
    }
    println!("cancellation points that swallowed the next write: {swallowed} of 60");
    assert!(
        swallowed > 0,
        "no cancelled begin() swallowed a write: if sqlx shipped the fix of sqlx#4393, drop the \
         own-pool advice in saga-sqlx's README and Inbox docs, and this test"
    );
}

#[tokio::test]
async fn a_begin_cancelled_on_the_handlers_own_pool_costs_the_log_nothing() {
    let Some(log) = log_of_one_connection().await else {
        return;
    };
    let handlers = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::postgres_url())
        .await
        .expect("the handlers' pool");
    let id = SagaId::new();
    for polls in 1..=60 {
        cancel_a_begin(&handlers, polls).await;
    }
    log.create(new_saga(id)).await.expect("create");
    assert!(committed(&log, id).await, "the log's write is committed");
    handlers.close().await;
    log.drop_tables().await.expect("drop");
}
