//! Table prefixes are lower case on every backend: PostgreSQL folds unquoted names to lower case, so
//! `Tx_` and `tx_` would share tables there while MariaDB kept them apart. An upper-case prefix is
//! rejected, with the reason, before anything touches the database.

mod common;

use saga_sqlx::{Error, SqlLogConfig};

/// A random prefix with one upper-case letter, and its lower-case twin.
fn prefixes() -> (String, String) {
    let lower = common::prefix();
    (lower.replacen('t', "T", 1), lower)
}

fn assert_rejected<T: std::fmt::Debug>(result: saga_sqlx::Result<T>) {
    let err = result.expect_err("an upper-case prefix is rejected");
    assert!(matches!(err, Error::InvalidTablePrefix { .. }), "{err:?}");
    assert!(err.to_string().contains("lower case"), "says why: {err}");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_rejects_upper_case_prefixes() {
    let (upper, lower) = prefixes();
    let dir = common::TempDir::new();
    let url = format!("sqlite://{}", dir.path.join("saga.db").display());
    let config = |p: &str| SqlLogConfig::default().with_table_prefix(p);
    assert_rejected(saga_sqlx::SqliteSagaLog::connect(&url, config(&upper)).await);
    let log = saga_sqlx::SqliteSagaLog::connect(&url, config(&lower))
        .await
        .expect("the lower-case twin is fine");
    assert_rejected(saga_sqlx::SqliteSagaLog::with_pool(
        log.pool().clone(),
        &config(&upper),
    ));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_rejects_upper_case_prefixes() {
    let (upper, lower) = prefixes();
    let config = |p: &str| SqlLogConfig::default().with_table_prefix(p);
    let Some(log) = common::postgres(config(&lower)).await else {
        return;
    };
    assert_rejected(
        saga_sqlx::PostgresSagaLog::connect(&common::postgres_url(), config(&upper)).await,
    );
    assert_rejected(saga_sqlx::PostgresSagaLog::with_pool(
        log.pool().clone(),
        &config(&upper),
    ));
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_rejects_upper_case_prefixes() {
    let (upper, lower) = prefixes();
    let config = |p: &str| SqlLogConfig::default().with_table_prefix(p);
    let Some(log) = common::mysql(config(&lower)).await else {
        return;
    };
    assert_rejected(saga_sqlx::MySqlSagaLog::connect(&common::mysql_url(), config(&upper)).await);
    assert_rejected(saga_sqlx::MySqlSagaLog::with_pool(
        log.pool().clone(),
        &config(&upper),
    ));
    log.drop_tables().await.expect("drop");
}
