//! The participant inbox: `record_in_tx` dedupes within the business transaction, and corrupt rows are
//! errors. Its `IdempotencyStore` implementation runs the shared store suite in `inbox_conformance.rs`.

mod common;

use std::time::Duration;

use saga::participant::IdempotencyStore;
use saga::{Direction, IdempotencyKey, SagaId};
use saga_sqlx::{InboxOutcome, SqlLogConfig};

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

/// The inbox rows of two keys, one `done` with an unknown reply status and one with an unknown status,
/// written behind the crate's back; returns the keys.
fn corrupt_rows(prefix: &str) -> (String, IdempotencyKey, IdempotencyKey) {
    let (bad_reply, bad_status) = (
        IdempotencyKey::new(SagaId::new(), 0, Direction::Forward),
        IdempotencyKey::new(SagaId::new(), 1, Direction::Forward),
    );
    let sql = format!(
        "INSERT INTO {prefix}saga_inbox (scope, idem_key, status, reply_status, reply, created_at_ms) \
         VALUES ('p', '{bad_reply}', 'done', 'exploded', NULL, 0), \
                ('p', '{bad_status}', 'weird', NULL, NULL, 0)"
    );
    (sql, bad_reply, bad_status)
}

/// Neither key reads as a stored `Ok` reply or as "in progress": both are corrupt-row errors.
async fn corrupt_rows_are_errors<DB: sqlx::Database>(
    store: &saga_sqlx::Inbox<DB>,
    bad_reply: &IdempotencyKey,
    bad_status: &IdempotencyKey,
) where
    saga_sqlx::Inbox<DB>: IdempotencyStore,
{
    let lease = Duration::from_secs(60);
    for key in [bad_reply, bad_status] {
        let err = store
            .claim("p", &key.to_string(), lease)
            .await
            .expect_err("an unknown stored status is an error");
        assert!(err.to_string().contains("corrupt inbox row"), "{err}");
        assert!(!err.is_transient(), "{err}");
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_inbox_rejects_unknown_statuses() {
    let (log, _dir) = common::sqlite(config()).await;
    let (sql, bad_reply, bad_status) = corrupt_rows(log.table_prefix());
    sqlx::raw_sql(&sql).execute(log.pool()).await.expect("rows");
    corrupt_rows_are_errors(&log.inbox("p"), &bad_reply, &bad_status).await;
    let mut tx = log.pool().begin().await.expect("begin");
    let err = log
        .inbox("p")
        .record_in_tx(&mut tx, &bad_status, b"r")
        .await
        .expect_err("not a duplicate of anything");
    assert!(matches!(err, saga_sqlx::Error::Corrupt { .. }), "{err:?}");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_inbox_rejects_unknown_statuses() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    let (sql, bad_reply, bad_status) = corrupt_rows(log.table_prefix());
    sqlx::raw_sql(&sql).execute(log.pool()).await.expect("rows");
    corrupt_rows_are_errors(&log.inbox("p"), &bad_reply, &bad_status).await;
    let mut tx = log.pool().begin().await.expect("begin");
    let err = log.inbox("p").record_in_tx(&mut tx, &bad_reply, b"r").await;
    assert!(
        matches!(err, Err(saga_sqlx::Error::Corrupt { .. })),
        "{err:?}"
    );
    tx.rollback().await.expect("rollback");
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_inbox_rejects_unknown_statuses() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    let (sql, bad_reply, bad_status) = corrupt_rows(log.table_prefix());
    sqlx::raw_sql(&sql).execute(log.pool()).await.expect("rows");
    corrupt_rows_are_errors(&log.inbox("p"), &bad_reply, &bad_status).await;
    let mut tx = log.pool().begin().await.expect("begin");
    let err = log
        .inbox("p")
        .record_in_tx(&mut tx, &bad_status, b"r")
        .await;
    assert!(
        matches!(err, Err(saga_sqlx::Error::Corrupt { .. })),
        "{err:?}"
    );
    tx.rollback().await.expect("rollback");
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_inbox_records_once_in_the_business_transaction() {
    let (log, _dir) = common::sqlite(config()).await;
    let inbox = log.inbox("payments");
    let key = IdempotencyKey::new(SagaId::new(), 1, Direction::Forward);
    sqlx::query("CREATE TABLE wallet (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        .execute(log.pool())
        .await
        .expect("table");
    sqlx::query("INSERT INTO wallet VALUES (1, 1000)")
        .execute(log.pool())
        .await
        .expect("row");
    // A rolled-back first attempt leaves nothing behind.
    let mut tx = log.pool().begin().await.expect("begin");
    assert_eq!(
        inbox
            .record_in_tx(&mut tx, &key, b"charged")
            .await
            .expect("record"),
        InboxOutcome::FirstTime
    );
    tx.rollback().await.expect("rollback");
    for attempt in 0..3 {
        let mut tx = log.pool().begin().await.expect("begin");
        match inbox
            .record_in_tx(&mut tx, &key, b"charged")
            .await
            .expect("record")
        {
            InboxOutcome::FirstTime => {
                assert_eq!(attempt, 0, "only the first delivery applies");
                sqlx::query("UPDATE wallet SET balance = balance - 100 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .expect("charge");
            }
            InboxOutcome::Duplicate { stored_reply } => {
                assert_eq!(stored_reply, b"charged");
            }
            _ => unreachable!(),
        }
        tx.commit().await.expect("commit");
    }
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM wallet WHERE id = 1")
        .fetch_one(log.pool())
        .await
        .expect("balance");
    assert_eq!(balance, 900, "charged once");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_inbox_records_once_in_the_business_transaction() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    let inbox = log.inbox("p");
    let key = IdempotencyKey::new(SagaId::new(), 2, Direction::Compensate);
    let mut tx = log.pool().begin().await.expect("begin");
    assert_eq!(
        inbox
            .record_in_tx(&mut tx, &key, b"r")
            .await
            .expect("record"),
        InboxOutcome::FirstTime
    );
    tx.commit().await.expect("commit");
    let mut tx = log.pool().begin().await.expect("begin");
    assert_eq!(
        inbox
            .record_in_tx(&mut tx, &key, b"other")
            .await
            .expect("record"),
        InboxOutcome::Duplicate {
            stored_reply: b"r".to_vec()
        }
    );
    tx.rollback().await.expect("rollback");
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_inbox_records_once_in_the_business_transaction() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    let inbox = log.inbox("p");
    let key = IdempotencyKey::new(SagaId::new(), 2, Direction::Forward);
    let mut tx = log.pool().begin().await.expect("begin");
    assert_eq!(
        inbox
            .record_in_tx(&mut tx, &key, b"r")
            .await
            .expect("record"),
        InboxOutcome::FirstTime
    );
    tx.commit().await.expect("commit");
    let mut tx = log.pool().begin().await.expect("begin");
    assert_eq!(
        inbox
            .record_in_tx(&mut tx, &key, b"other")
            .await
            .expect("record"),
        InboxOutcome::Duplicate {
            stored_reply: b"r".to_vec()
        }
    );
    tx.rollback().await.expect("rollback");
    log.drop_tables().await.expect("drop");
}
