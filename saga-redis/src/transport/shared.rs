//! What a transport shares with its subscriptions and ackers: the configuration, the
//! `ConnectionManager` for every non-blocking command, and the operations they have in common
//! (dead-lettering, trimming, moving due delayed entries).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisError, ScriptInvocation};
use saga::transport::{dead_letter_topic, TransportError};
use tokio::sync::watch;

use super::config::RedisTransportConfig;
use super::keys::TopicKeys;
use super::scripts::SCRIPTS;
use super::stats::{add, Counters};
use crate::error::transport_error;

/// Idle time after which a consumer without pending entries is removed from its group (it is
/// recreated by its next read if it is still alive).
const CONSUMER_IDLE: Duration = Duration::from_secs(600);

pub(crate) struct Shared {
    pub(crate) config: RedisTransportConfig,
    pub(crate) client: redis::Client,
    pub(crate) conn: ConnectionManager,
    pub(crate) closed: watch::Sender<bool>,
    /// Topics whose stream was at its bound when last published to.
    pub(crate) congested: Mutex<HashSet<Arc<str>>>,
    pub(crate) stats: Counters,
}

impl Shared {
    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub(crate) fn keys(&self, topic: &str) -> TopicKeys {
        TopicKeys::new(&self.config.key_prefix, topic)
    }

    /// The bound on one non-blocking operation: the response timeout plus a connection attempt (the
    /// `ConnectionManager` may be reconnecting).
    fn deadline(&self) -> Duration {
        self.config.response_timeout + self.config.connect_timeout
    }

    pub(crate) fn error(&self, e: RedisError, what: &'static str) -> TransportError {
        transport_error(e, what, &self.config.url)
    }

    /// Runs a script invocation on the `ConnectionManager`, bounded in time.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        what: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, TransportError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.deadline(), invocation.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(e, what)),
            Err(_) => Err(TransportError::Timeout { operation: what }),
        }
    }

    /// Runs a plain command on the `ConnectionManager`, bounded in time.
    pub(crate) async fn command<T: FromRedisValue>(
        &self,
        what: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, TransportError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.deadline(), cmd.query_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(e, what)),
            Err(_) => Err(TransportError::Timeout { operation: what }),
        }
    }

    /// Runs a pipeline on the `ConnectionManager`, bounded in time.
    pub(crate) async fn pipeline<T: FromRedisValue>(
        &self,
        what: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, TransportError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.deadline(), pipe.query_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.error(e, what)),
            Err(_) => Err(TransportError::Timeout { operation: what }),
        }
    }

    /// Adds `fields` (with the reason, the group and the entry id) to the dead-letter stream of the
    /// topic, then acknowledges the entry: a crash in between leaves the entry pending, so it may be
    /// dead-lettered twice, never lost. The dead-letter stream is then trimmed to its newest
    /// [`dead_letter_keep`](RedisTransportConfig::with_dead_letter_keep) entries (and whatever its own
    /// groups have not acknowledged).
    pub(crate) async fn dead_letter(
        &self,
        keys: &TopicKeys,
        group: &str,
        id: &str,
        fields: Vec<(Vec<u8>, Bytes)>,
        reason: &str,
    ) -> Result<(), TransportError> {
        let dead = self.keys(&dead_letter_topic(&keys.topic));
        let fields = super::entry::dead_fields(fields, reason, group, id);
        let mut add_cmd = redis::cmd("XADD");
        add_cmd.arg(&dead.stream).arg("*");
        for (name, value) in &fields {
            add_cmd.arg(name.as_slice()).arg(&value[..]);
        }
        let mut pipe = redis::pipe();
        pipe.add_command(add_cmd)
            .cmd("XACK")
            .arg(&keys.stream)
            .arg(group)
            .arg(id);
        let (_, _): (String, u64) = self.pipeline("dead-letter", &pipe).await?;
        add(&self.stats.dead_lettered, 1);
        tracing::warn!(
            topic = %keys.topic, group, entry = id, reason, "message dead-lettered"
        );
        self.trim(&dead).await.map(|_| ())
    }

    /// Removes expired groups and idle consumers without pending entries, and trims the stream below
    /// what every group has both delivered and acknowledged. Returns the stream's length.
    pub(crate) async fn trim(&self, keys: &TopicKeys) -> Result<u64, TransportError> {
        let keep = if keys.dead_letters {
            self.config.dead_letter_keep
        } else {
            0
        };
        let idle = CONSUMER_IDLE.max(self.config.claim_idle * 4).as_millis();
        let (len, removed, _destroyed): (u64, u64, u64) = self
            .script(
                "trim",
                SCRIPTS
                    .trim
                    .key(&keys.stream)
                    .key(&keys.expiry)
                    .arg(keep)
                    .arg(u64::try_from(idle).unwrap_or(u64::MAX)),
            )
            .await?;
        add(&self.stats.trimmed, removed);
        if self.config.stream_bound.is_some_and(|bound| len < bound) {
            self.congested.lock().remove(&*keys.topic);
        }
        Ok(len)
    }

    /// Moves up to a batch of `group`'s due delayed entries back into the stream. Returns how long
    /// until the next one is due, if any.
    pub(crate) async fn move_due(
        &self,
        keys: &TopicKeys,
        group: &str,
    ) -> Result<Option<Duration>, TransportError> {
        let (moved, next): (u64, i64) = self
            .script(
                "move delayed entries",
                SCRIPTS
                    .mover
                    .key(&keys.stream)
                    .key(keys.delayed(group))
                    .arg(self.config.batch_size),
            )
            .await?;
        add(&self.stats.moved, moved);
        Ok(u64::try_from(next).ok().map(Duration::from_millis))
    }
}
