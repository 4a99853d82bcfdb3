//! Configuration of the Redis Streams transport: [`RedisTransportConfig`].

use std::fmt;
use std::time::Duration;

use saga::transport::DEFAULT_MAX_MESSAGE_SIZE;

use crate::config::validate_prefix;
use crate::error::{Error, Result};
use crate::secret::SecretUrl;

/// Settings of a [`RedisTransport`](crate::RedisTransport): the server's URL and how the transport
/// uses Redis Streams, built with `with_*` methods. Its `Debug` output never shows the password.
///
/// ```
/// use std::time::Duration;
/// use saga_redis::RedisTransportConfig;
/// let config = RedisTransportConfig::new("redis://:secret@127.0.0.1:6379/0")
///     .with_key_prefix("shop")
///     .with_block_time(Duration::from_secs(1))
///     .with_claim_idle(Duration::from_secs(10))
///     .with_delivery_limit(Some(5));
/// assert!(config.validate().is_ok());
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisTransportConfig {
    pub(crate) url: SecretUrl,
    pub(crate) key_prefix: String,
    pub(crate) block_time: Duration,
    pub(crate) batch_size: usize,
    pub(crate) claim_idle: Duration,
    pub(crate) delivery_limit: Option<u32>,
    pub(crate) stream_bound: Option<u64>,
    pub(crate) publish_wait: Duration,
    pub(crate) dead_letter_keep: u64,
    pub(crate) max_message_size: usize,
    pub(crate) trim_interval: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
}

impl fmt::Debug for RedisTransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTransportConfig")
            .field("url", &self.url)
            .field("key_prefix", &self.key_prefix)
            .field("block_time", &self.block_time)
            .field("batch_size", &self.batch_size)
            .field("claim_idle", &self.claim_idle)
            .field("delivery_limit", &self.delivery_limit)
            .field("stream_bound", &self.stream_bound)
            .field("publish_wait", &self.publish_wait)
            .field("dead_letter_keep", &self.dead_letter_keep)
            .field("max_message_size", &self.max_message_size)
            .field("trim_interval", &self.trim_interval)
            .field("response_timeout", &self.response_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff", &(self.backoff_min, self.backoff_max))
            .finish()
    }
}

impl RedisTransportConfig {
    /// The defaults for the server at `url` (`redis://[user:password@]host[:port][/db]`, `rediss://…`,
    /// `redis+unix:///path?pass=…`): prefix `saga`, 2 s blocking reads of up to 64 entries, entries
    /// pending 30 s claimed by other consumers, dead-lettered after 16 deliveries, streams bounded at
    /// 100,000 entries (publishers wait up to 5 s for room), the newest 10,000 dead letters kept,
    /// 1 MiB messages, trimmed every second, 2 s response and 1 s connect timeouts, reconnects backing
    /// off from 50 ms to 5 s.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: SecretUrl::new(url),
            key_prefix: "saga".to_owned(),
            block_time: Duration::from_secs(2),
            batch_size: 64,
            claim_idle: Duration::from_secs(30),
            delivery_limit: Some(16),
            stream_bound: Some(100_000),
            publish_wait: Duration::from_secs(5),
            dead_letter_keep: 10_000,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            trim_interval: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
        }
    }

    /// The first part of every key (`<prefix>:t:{<topic>}:…`): 1 to 48 characters of `[a-z0-9_:-]`,
    /// checked like the saga log's ([`validate_prefix`]). The transport's keys never collide with a
    /// [`RedisSagaLog`](crate::RedisSagaLog)'s under the same prefix.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long one `XREADGROUP … BLOCK` waits for new entries (at least 1 ms). Its connection's
    /// response timeout is this plus [`with_response_timeout`](Self::with_response_timeout), so the
    /// blocking read never times out client-side (redis-rs's 500 ms default would).
    #[must_use]
    pub const fn with_block_time(mut self, block: Duration) -> Self {
        self.block_time = block;
        self
    }

    /// The most entries one read or claim returns (`COUNT`), 1 to 10,000.
    #[must_use]
    pub const fn with_batch_size(mut self, entries: usize) -> Self {
        self.batch_size = entries;
        self
    }

    /// How long an entry stays pending with a consumer before another consumer of its group claims it
    /// (`XAUTOCLAIM … min-idle-time`): the redelivery delay after a consumer died, and the longest a
    /// handler may take before its message is handed to a competitor too. Each subscription claims
    /// every half of it. At least 10 ms.
    #[must_use]
    pub const fn with_claim_idle(mut self, idle: Duration) -> Self {
        self.claim_idle = idle;
        self
    }

    /// Dead-letters an entry instead of delivering it more than this many times; `None` redelivers
    /// forever (the participant runtime's own `max_deliveries` still applies).
    #[must_use]
    pub const fn with_delivery_limit(mut self, deliveries: Option<u32>) -> Self {
        self.delivery_limit = deliveries;
        self
    }

    /// The soft bound of a topic's stream, in entries still needed by some group (trimming removes the
    /// rest): a publish that finds the stream at or over it waits, trimming again, up to
    /// [`with_publish_wait`](Self::with_publish_wait), then fails with a transient error. `None`
    /// disables the check (streams are still trimmed).
    #[must_use]
    pub const fn with_stream_bound(mut self, entries: Option<u64>) -> Self {
        self.stream_bound = entries;
        self
    }

    /// How long a publish waits for room in a full stream before it fails.
    #[must_use]
    pub const fn with_publish_wait(mut self, wait: Duration) -> Self {
        self.publish_wait = wait;
        self
    }

    /// How many of the newest dead letters a dead-letter stream keeps beyond those some group of it
    /// has not acknowledged (at least 1).
    #[must_use]
    pub const fn with_dead_letter_keep(mut self, entries: u64) -> Self {
        self.dead_letter_keep = entries;
        self
    }

    /// The largest message, headers included (`Message::size`), published or accepted on receipt.
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How often each subscription trims its stream (and removes expired groups), at least 10 ms.
    #[must_use]
    pub const fn with_trim_interval(mut self, interval: Duration) -> Self {
        self.trim_interval = interval;
        self
    }

    /// How long a non-blocking command may wait for its answer before it fails with a transient error.
    #[must_use]
    pub const fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How long one connection attempt may take.
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The first and the longest pause between reconnection attempts of a subscription (doubling, with
    /// jitter, in between).
    #[must_use]
    pub const fn with_reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    /// The key prefix.
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The URL with its password replaced by `***`.
    #[must_use]
    pub fn redacted_url(&self) -> String {
        self.url.to_string()
    }

    /// Checks the prefix and that every setting is in range.
    ///
    /// # Errors
    /// [`Error::InvalidKeyPrefix`], [`Error::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.key_prefix)?;
        let bad = |setting, reason| Err(Error::InvalidConfig { setting, reason });
        if self.block_time.is_zero() {
            return bad("block_time", "must be at least 1 ms");
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return bad("batch_size", "must be between 1 and 10000");
        }
        if self.claim_idle < Duration::from_millis(10) {
            return bad("claim_idle", "must be at least 10 ms");
        }
        if self.trim_interval < Duration::from_millis(10) {
            return bad("trim_interval", "must be at least 10 ms");
        }
        if self.delivery_limit == Some(0) {
            return bad(
                "delivery_limit",
                "must be at least 1 (None redelivers forever)",
            );
        }
        if self.stream_bound == Some(0) {
            return bad("stream_bound", "must be at least 1 (None disables it)");
        }
        if self.dead_letter_keep == 0 {
            return bad("dead_letter_keep", "must be at least 1");
        }
        if self.max_message_size == 0 {
            return bad("max_message_size", "must be at least 1 byte");
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return bad("reconnect_backoff", "needs 0 < min <= max");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let ok = RedisTransportConfig::new("redis://127.0.0.1");
        assert!(ok.validate().is_ok());
        for bad in [
            ok.clone().with_key_prefix("Shop"),
            ok.clone().with_block_time(Duration::ZERO),
            ok.clone().with_batch_size(0),
            ok.clone().with_claim_idle(Duration::from_millis(1)),
            ok.clone().with_delivery_limit(Some(0)),
            ok.clone().with_stream_bound(Some(0)),
            ok.clone().with_dead_letter_keep(0),
            ok.clone()
                .with_reconnect_backoff(Duration::from_secs(2), Duration::from_secs(1)),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let config = RedisTransportConfig::new("redis://app:p%40ss@127.0.0.1:6379/1");
        let shown = format!("{config:?}");
        assert!(
            shown.contains("redis://app:***@127.0.0.1:6379/1"),
            "{shown}"
        );
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
    }
}
