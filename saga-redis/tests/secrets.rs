//! Credentials never appear in `Debug` output or error messages; key prefixes are validated.

mod common;

use std::error::Error as _;

use saga_redis::{Error, RedisLogConfig, RedisSagaLog};

/// `p@ss:w/rd#%!`, percent-encoded as a redis URL carries it.
const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";
const DECODED: &str = "p@ss:w/rd#%!";

/// The error's text, its `Debug`, and every source's text and `Debug`.
fn everything_shown(err: &Error) -> String {
    let mut shown = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        shown.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    shown
}

fn assert_hidden(shown: &str) {
    for secret in [ENCODED, DECODED, "p@ss", "p%40ss"] {
        assert!(!shown.contains(secret), "{secret:?} shown in: {shown}");
    }
}

#[tokio::test]
async fn password_is_not_shown_when_the_server_is_unreachable() {
    // Nothing listens on port 1: the connection fails, and its error must not carry the password.
    let url = format!("redis://app:{ENCODED}@127.0.0.1:1/0");
    let config = RedisLogConfig::default().with_connect_retries(0);
    let err = RedisSagaLog::connect(&url, config)
        .await
        .expect_err("nothing listens there");
    let shown = everything_shown(&err);
    assert_hidden(&shown);
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(shown.contains("redis://app:***@127.0.0.1:1/0"), "{shown}");
    assert!(
        err.is_transient(),
        "connection refused is transient: {err:?}"
    );
}

#[tokio::test]
async fn password_is_not_shown_by_the_real_server_or_the_log() {
    let Some(plain) = common::log(common::config()).await else {
        return;
    };
    common::cleanup(&plain).await;
    let with_user = common::redis_url().replacen("://", &format!("://nobody:{ENCODED}@"), 1);
    let with_password = common::redis_url().replacen("://", &format!("://:{ENCODED}@"), 1);
    for url in [with_user, with_password] {
        match RedisSagaLog::connect(&url, common::config()).await {
            // The server refused the credentials: its answer must not echo them.
            Err(err) => assert_hidden(&everything_shown(&err)),
            // The server has no password set and accepted any: the log's Debug must hide it.
            Ok(log) => {
                let _guard = common::guard(&log);
                let debug = format!("{log:?}");
                assert_hidden(&debug);
                assert!(debug.contains(":***@"), "{debug}");
                common::cleanup(&log).await;
            }
        }
    }
}

#[test]
fn invalid_prefixes_and_settings_are_typed_errors() {
    for prefix in ["Orders", "app{1}", "a b", "x*", ""] {
        let err = RedisLogConfig::default()
            .with_key_prefix(prefix)
            .validate()
            .expect_err("not a valid prefix");
        assert!(matches!(err, Error::InvalidKeyPrefix { .. }), "{err:?}");
    }
    let err = RedisLogConfig::default()
        .with_shards(0)
        .validate()
        .expect_err("no shards");
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                setting: "shards",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn connect_rejects_a_bad_prefix_before_connecting() {
    let err = RedisSagaLog::connect(
        "redis://127.0.0.1:1",
        RedisLogConfig::default().with_key_prefix("Bad Prefix"),
    )
    .await
    .expect_err("invalid prefix");
    assert!(matches!(err, Error::InvalidKeyPrefix { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unparseable_url_is_not_echoed() {
    let err = RedisSagaLog::connect("redis://app:se cret@[bad", RedisLogConfig::default())
        .await
        .expect_err("not a url");
    let shown = everything_shown(&err);
    assert!(!shown.contains("se cret"), "{shown}");
}
