//! Configuration of the Redis saga log: [`RedisLogConfig`] and the validation of key prefixes.

use std::time::Duration;

use saga::log::BatchingConfig;

use crate::error::{Error, Result};

/// The longest key prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 48;

/// The most shards a log may spread its sagas over (see [`RedisLogConfig::with_shards`]).
pub const MAX_SHARDS: u16 = 1024;

/// Settings of a [`RedisSagaLog`](crate::RedisSagaLog), built with `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use saga_redis::RedisLogConfig;
/// let config = RedisLogConfig::default()
///     .with_key_prefix("shop:orders")
///     .with_retention(Some(Duration::from_secs(24 * 3600)))
///     .with_response_timeout(Duration::from_secs(1));
/// assert_eq!(config.key_prefix(), "shop:orders");
/// assert!(config.validate().is_ok());
/// assert!(RedisLogConfig::default().with_key_prefix("Shop").validate().is_err());
/// assert!(config.batching().is_some(), "writes are batched by default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisLogConfig {
    key_prefix: String,
    shards: u16,
    retention: Option<Duration>,
    response_timeout: Duration,
    connect_timeout: Duration,
    connect_retries: usize,
    batching: Option<BatchingConfig>,
}

impl Default for RedisLogConfig {
    /// Prefix `saga`, 16 shards, finished sagas kept 7 days, 2 s response timeout, 1 s connect
    /// timeout, 6 connection attempts after the first (with exponential backoff), writes batched
    /// ([`BatchingConfig::default`]).
    fn default() -> Self {
        Self {
            key_prefix: "saga".to_owned(),
            shards: 16,
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            connect_retries: 6,
            batching: Some(BatchingConfig::default()),
        }
    }
}

impl RedisLogConfig {
    /// The first part of every key the log writes (`<prefix>:…`). It must be 1 to
    /// [`MAX_PREFIX_LEN`] characters of `[a-z0-9_:-]`; `connect` rejects anything else with
    /// [`Error::InvalidKeyPrefix`]. Logs with different prefixes never see each other's sagas.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How many shards (hash tags, hence Redis Cluster slots) the sagas are spread over, 1 to
    /// [`MAX_SHARDS`]; default 16. Part of the storage layout: every process sharing a prefix must use
    /// the same count, and `connect` refuses a count other than the one the prefix was created with
    /// ([`Error::ShardCountMismatch`]). Claims and `list` read one index per shard.
    #[must_use]
    pub fn with_shards(mut self, shards: u16) -> Self {
        self.shards = shards;
        self
    }

    /// How long a finished (completed, compensated or resolved) saga's keys live after its last append:
    /// they get this `PEXPIRE`. `None` keeps them forever. Must not be zero.
    #[must_use]
    pub fn with_retention(mut self, retention: Option<Duration>) -> Self {
        self.retention = retention;
        self
    }

    /// How long a command may wait for the server's answer before it fails with a transient error
    /// (redis-rs defaults to 500 ms; this log to 2 s, as one claim pipelines many scripts).
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a failed connection attempt is repeated, with exponential backoff, by `connect`
    /// and after the connection is lost.
    #[must_use]
    pub fn with_connect_retries(mut self, retries: usize) -> Self {
        self.connect_retries = retries;
        self
    }

    /// How concurrent `create`s and `append`s are batched (the default: natural batching with
    /// [`BatchingConfig::default`]). A write that finds a writer lane free is sent at once, alone;
    /// writes that arrive while the lanes are busy go to the server together as one pipeline (one
    /// round trip). Each is still its own script, atomic and fenced on its own, with its own result:
    /// a stale writer's append fails alone.
    #[must_use]
    pub fn with_batching(mut self, batching: BatchingConfig) -> Self {
        self.batching = Some(batching);
        self
    }

    /// Turns batching off: every `create` and `append` is its own request, sent from the caller's
    /// task.
    #[must_use]
    pub fn without_batching(mut self) -> Self {
        self.batching = None;
        self
    }

    /// The batching settings, `None` when batching is off.
    #[must_use]
    pub const fn batching(&self) -> Option<BatchingConfig> {
        self.batching
    }

    /// The key prefix.
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The shard count.
    #[must_use]
    pub const fn shards(&self) -> u16 {
        self.shards
    }

    /// The retention of finished sagas.
    #[must_use]
    pub const fn retention(&self) -> Option<Duration> {
        self.retention
    }

    /// The response timeout.
    #[must_use]
    pub const fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// The connect timeout.
    #[must_use]
    pub const fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The connection retries.
    #[must_use]
    pub const fn connect_retries(&self) -> usize {
        self.connect_retries
    }

    /// Checks the prefix, the shard count and the retention.
    ///
    /// # Errors
    /// [`Error::InvalidKeyPrefix`], [`Error::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.key_prefix)?;
        if self.shards == 0 || self.shards > MAX_SHARDS {
            return Err(Error::InvalidConfig {
                setting: "shards",
                reason: "must be between 1 and 1024",
            });
        }
        if self.retention.is_some_and(|r| r.as_millis() == 0) {
            return Err(Error::InvalidConfig {
                setting: "retention",
                reason: "must be at least 1 ms (None keeps finished sagas forever)",
            });
        }
        Ok(())
    }
}

/// Checks that `prefix` is 1 to [`MAX_PREFIX_LEN`] characters of `[a-z0-9_:-]`.
///
/// No braces (a `{` would start a hash tag of its own), no glob characters (the prefix is used in
/// `SCAN MATCH`), nothing that needs quoting in `redis-cli`.
///
/// # Errors
/// [`Error::InvalidKeyPrefix`].
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidKeyPrefix {
            prefix: prefix.chars().take(MAX_PREFIX_LEN + 8).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_lower_case_identifiers() {
        for ok in ["saga", "app:orders", "a-b_c:1", &"a".repeat(MAX_PREFIX_LEN)] {
            assert!(validate_prefix(ok).is_ok(), "{ok:?} is valid");
        }
        for bad in [
            "",
            "Saga",
            "a{b}",
            "a*",
            "a b",
            "é",
            "x\n",
            &"a".repeat(MAX_PREFIX_LEN + 1),
        ] {
            assert!(
                matches!(validate_prefix(bad), Err(Error::InvalidKeyPrefix { .. })),
                "{bad:?} is rejected"
            );
        }
    }

    #[test]
    fn shards_and_retention_are_checked() {
        let config = RedisLogConfig::default();
        assert!(config.validate().is_ok());
        assert!(config.clone().with_shards(0).validate().is_err());
        assert!(config
            .clone()
            .with_shards(MAX_SHARDS + 1)
            .validate()
            .is_err());
        assert!(config.clone().with_shards(MAX_SHARDS).validate().is_ok());
        assert!(config
            .clone()
            .with_retention(Some(Duration::ZERO))
            .validate()
            .is_err());
        assert!(config.with_retention(None).validate().is_ok());
    }
}
