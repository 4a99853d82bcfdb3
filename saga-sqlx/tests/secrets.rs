//! Credentials never appear in `Debug` output or error messages; table prefixes are validated.

mod common;

use saga_sqlx::{Error, SqlLogConfig};

#[test]
fn invalid_prefixes_are_typed_errors() {
    let err = SqlLogConfig::default()
        .with_table_prefix("app-1; DROP TABLE x")
        .validate()
        .expect_err("not an identifier");
    assert!(matches!(err, Error::InvalidTablePrefix { .. }), "{err:?}");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_password_is_not_shown() {
    // Nothing listens on port 1: the connection fails, and its error must not carry the password.
    let url = "postgres://user:secret@127.0.0.1:1/db";
    let err = saga_sqlx::PostgresSagaLog::connect(url, SqlLogConfig::default())
        .await
        .expect_err("nothing listens there");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("user:***@127.0.0.1:1"), "{shown}");
    assert!(err.is_transient(), "connection refused is transient");

    // A wrong password against the real server: the server's answer must not echo it either.
    let real = common::postgres_url().replacen("://", "://postgres:secret@", 1);
    let real = real.replacen("postgres@", "", 1);
    if let Ok(log) = saga_sqlx::PostgresSagaLog::connect(&real, SqlLogConfig::default()).await {
        // Trust authentication accepted it: the log's Debug must still hide it.
        let debug = format!("{log:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_password_is_not_shown() {
    let url = "mysql://root:secret@127.0.0.1:1/test";
    let err = saga_sqlx::MySqlSagaLog::connect(url, SqlLogConfig::default())
        .await
        .expect_err("nothing listens there");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn config_debug_has_no_url() {
    let config = SqlLogConfig::default().with_table_prefix("app_");
    let debug = format!("{config:?}");
    assert!(debug.contains("app_") && !debug.contains("secret"));
}
