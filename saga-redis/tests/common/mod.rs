//! Helpers shared by the Redis tests: the URL from the environment, skipping, isolation, cleanup.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;

pub mod server;
pub mod shop;

use saga_redis::redis::{self, TypedCommands as _};
use saga_redis::{Error, RedisLogConfig, RedisSagaLog};

/// `SAGA_TEST_REDIS_URL` or the local default.
pub fn redis_url() -> String {
    std::env::var("SAGA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A random key prefix, so tests run in parallel against one server.
pub fn prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A configuration with a fresh random prefix that gives up quickly on an absent server.
pub fn config() -> RedisLogConfig {
    RedisLogConfig::default()
        .with_key_prefix(prefix())
        .with_connect_retries(1)
}

/// Prints the skip line and returns `None`, or panics when `SAGA_REQUIRE_BACKENDS=1`.
pub fn unreachable<T>(url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    let shown = saga_redis::redact_url(url);
    if std::env::var("SAGA_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("redis unreachable at {shown} and SAGA_REQUIRE_BACKENDS=1: {error}");
    }
    println!("skipped: redis unreachable at {shown}");
    None
}

/// A log on the test server, or `None` (after the skip line) when it is not there.
pub async fn log(config: RedisLogConfig) -> Option<RedisSagaLog> {
    let url = redis_url();
    match RedisSagaLog::connect(&url, config).await {
        Ok(log) => Some(log),
        Err(e @ Error::Connect { .. }) => unreachable(&url, &e),
        Err(e) => panic!("redis setup failed: {e}"),
    }
}

/// The same, shared, for the conformance suite.
pub async fn shared_log() -> Option<Arc<RedisSagaLog>> {
    log(config()).await.map(Arc::new)
}

/// A plain connection for raw commands (damaging sagas, reading TTLs).
pub async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
        .expect("the server answered a moment ago")
}

/// Every key under `prefix` (`SCAN MATCH <prefix>:*`).
pub async fn keys_under(prefix: &str) -> Vec<String> {
    let mut conn = raw().await;
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        out.extend(batch);
        cursor = next;
        if cursor == 0 {
            return out;
        }
    }
}

/// Deletes every key the log created (`delete_all`), then checks nothing under its prefix is left,
/// deleting any leftovers of the test itself.
pub async fn cleanup(log: &RedisSagaLog) {
    log.delete_all().await.expect("delete the prefix's keys");
    let left = keys_under(log.key_prefix()).await;
    if !left.is_empty() {
        let mut conn = raw().await;
        let _: () = redis::cmd("UNLINK")
            .arg(&left)
            .query_async(&mut conn)
            .await
            .expect("unlink");
        panic!("delete_all left keys behind: {left:?}");
    }
}

/// The key of saga `id` ending in `suffix` (`inst` or `rec`), found by scanning the prefix.
pub async fn saga_key(prefix: &str, id: saga::SagaId, suffix: &str) -> String {
    let end = format!(":saga:{id}:{suffix}");
    keys_under(prefix)
        .await
        .into_iter()
        .find(|k| k.ends_with(&end))
        .unwrap_or_else(|| panic!("no key *{end} under {prefix}"))
}

/// Deletes every key under its prefix when dropped, so a test that fails half-way leaves nothing
/// behind either (a blocking connection: drops cannot await).
pub struct Guard(pub String);

impl Drop for Guard {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(redis_url()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = match conn.scan_match::<_, String>(format!("{}:*", self.0)) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
        }
    }
}

/// A [`Guard`] for the log's prefix.
pub fn guard(log: &RedisSagaLog) -> Guard {
    Guard(log.key_prefix().to_owned())
}

/// A transport configuration for the test server under `prefix`: short block, claim and trim times,
/// so redeliveries come quickly.
pub fn transport_config(prefix: &str) -> saga_redis::RedisTransportConfig {
    saga_redis::RedisTransportConfig::new(&redis_url())
        .with_key_prefix(prefix)
        .with_block_time(std::time::Duration::from_millis(500))
        .with_claim_idle(std::time::Duration::from_millis(500))
        .with_trim_interval(std::time::Duration::from_millis(200))
        .with_reconnect_backoff(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(500),
        )
}

/// A transport, or `None` (after the skip line) when the server is not there.
pub async fn transport(
    config: saga_redis::RedisTransportConfig,
) -> Option<saga_redis::RedisTransport> {
    match saga_redis::RedisTransport::connect(config).await {
        Ok(t) => Some(t),
        Err(e @ Error::Connect { .. }) => unreachable(&redis_url(), &e),
        Err(e) => panic!("redis setup failed: {e}"),
    }
}
