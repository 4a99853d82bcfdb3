//! Connecting a [`RedisSagaLog`], checking the prefix's layout, and deleting a prefix's keys.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, RedisError};

use super::{defs, keys::Keys, millis, scripts, Inner, RedisSagaLog};
use crate::config::RedisLogConfig;
use crate::error::{is_transient, Error, Result};
use crate::secret::SecretUrl;
use crate::stats::Counters;

/// The storage format recorded in `<prefix>:meta`.
const FORMAT: &str = "1";

impl RedisSagaLog {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`, `rediss://…`, or
    /// `redis+unix:///path?pass=…`) through a `ConnectionManager`, which reconnects by itself after
    /// the connection is lost, and checks that the prefix's recorded shard count matches `config`
    /// (recording it for a new prefix).
    ///
    /// # Errors
    /// [`Error::InvalidKeyPrefix`], [`Error::InvalidConfig`], [`Error::Connect`] (its URL and message
    /// carry no password), [`Error::ShardCountMismatch`].
    pub async fn connect(url: &str, config: RedisLogConfig) -> Result<Self> {
        config.validate()?;
        let secret = SecretUrl::new(url);
        let connect_err = |source: RedisError| Error::Connect {
            url: secret.to_string(),
            message: secret.scrub(&source.to_string()).into_owned(),
            transient: is_transient(&source),
            source,
        };
        let client = redis::Client::open(secret.expose()).map_err(connect_err)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout()))
            .set_connection_timeout(Some(config.connect_timeout()))
            .set_number_of_retries(config.connect_retries());
        let manager = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(connect_err)?;
        let keys = Keys::new(config.key_prefix(), config.shards());
        check_layout(manager.clone(), &keys)
            .await
            .map_err(|e| match e {
                Layout::Redis(source) => connect_err(source),
                Layout::Mismatch(stored) => Error::ShardCountMismatch {
                    prefix: keys.prefix().to_owned(),
                    stored,
                    configured: keys.shards(),
                },
            })?;
        let counters = Counters::new();
        counters.round_trip(0);
        Ok(Self::new(Inner {
            conn: scripts::Conn::new(manager, counters),
            keys,
            retention_ms: config.retention().map_or(0, millis),
            defs: defs::Definitions::default(),
            url: secret,
            config,
        }))
    }

    /// Deletes every key of this prefix (`SCAN` + `UNLINK`), sagas and indexes and `<prefix>:meta`:
    /// for tests and demos that used a throw-away prefix. Returns how many keys were deleted. On Redis
    /// Cluster it only sees the node the connection talks to.
    ///
    /// # Errors
    /// [`Error::Redis`].
    pub async fn delete_all(&self) -> Result<u64> {
        let mut conn = self.inner.conn.manager();
        let pattern = self.inner.keys.shard_pattern();
        let mut deleted: u64 = 0;
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(Error::redis)?;
            if !batch.is_empty() {
                let n: u64 = conn.unlink(&batch).await.map_err(Error::redis)?;
                deleted += n;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let n: u64 = conn
            .unlink(self.inner.keys.meta())
            .await
            .map_err(Error::redis)?;
        Ok(deleted + n)
    }
}

enum Layout {
    Redis(RedisError),
    Mismatch(String),
}

/// Records the format and shard count of a new prefix, and compares an existing prefix's.
async fn check_layout(mut conn: ConnectionManager, keys: &Keys) -> Result<(), Layout> {
    let meta = keys.meta();
    let shards = keys.shards().to_string();
    let (_, _, stored): (u8, u8, (Option<String>, Option<String>)) = redis::pipe()
        .hset_nx(&meta, "format", FORMAT)
        .hset_nx(&meta, "shards", &shards)
        .cmd("HMGET")
        .arg(&meta)
        .arg("format")
        .arg("shards")
        .query_async(&mut conn)
        .await
        .map_err(Layout::Redis)?;
    match stored {
        (Some(format), Some(found)) if format == FORMAT && found == shards => Ok(()),
        (format, found) => Err(Layout::Mismatch(format!(
            "{} (format {})",
            found.unwrap_or_else(|| "?".to_owned()),
            format.unwrap_or_else(|| "?".to_owned())
        ))),
    }
}
