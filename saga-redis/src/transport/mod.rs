//! [`RedisTransport`]: the saga [`Transport`] on Redis Streams.

mod acker;
mod admin;
mod config;
mod connection;
mod deliver;
pub(crate) mod entry;
mod keys;
mod parse;
mod publish;
mod reader;
mod scripts;
mod shared;
mod stats;
mod subscription;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;
use saga::transport::{
    Capabilities, CountPrecision, Message, MessageId, SubscribeOptions, Subscription, Transport,
    TransportError,
};

pub use admin::RedisDeadLetter;
pub use config::RedisTransportConfig;
pub use stats::RedisTransportStats;

use crate::error::{is_transient, Error, Result};
use reader::Reader;
use scripts::SCRIPTS;
use shared::Shared;
use subscription::RedisSubscription;

/// A [`Transport`] on Redis Streams (standalone, or a primary behind Sentinel or a proxy).
///
/// One stream per topic and one consumer group per (topic, group), created at `$` by the first
/// `subscribe` (so a group receives what is published after it was created); `publish` is `XADD`;
/// each subscription reads with `XREADGROUP … BLOCK` on a connection of its own and claims entries
/// other consumers left pending with `XAUTOCLAIM`; every other command goes over one shared
/// `ConnectionManager`. See the [crate docs](crate) for the key layout, and how delays, dead letters,
/// trimming, expiry and reconnection work. Cheap to clone.
#[derive(Clone)]
pub struct RedisTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTransport")
            .field("url", &self.shared.config.url)
            .field("key_prefix", &self.shared.config.key_prefix)
            .field("closed", &self.shared.is_closed())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RedisTransport {
    /// Connects the shared `ConnectionManager` (which reconnects by itself, backing off as
    /// configured) and checks the server answers.
    ///
    /// # Errors
    /// [`Error::InvalidKeyPrefix`], [`Error::InvalidConfig`], [`Error::Connect`] (whose URL and
    /// message carry no password).
    pub async fn connect(config: RedisTransportConfig) -> Result<Self> {
        config.validate()?;
        let url = config.url.clone();
        let connect_err = |source: RedisError| Error::Connect {
            url: url.to_string(),
            message: url.scrub(&source.to_string()).into_owned(),
            transient: is_transient(&source),
            source,
        };
        let client = redis::Client::open(url.expose()).map_err(connect_err)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(config.response_timeout))
            .set_connection_timeout(Some(config.connect_timeout))
            .set_min_delay(config.backoff_min)
            .set_max_delay(config.backoff_max)
            .set_number_of_retries(3);
        let mut manager = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(connect_err)?;
        let _: () = redis::cmd("PING")
            .query_async(&mut manager)
            .await
            .map_err(connect_err)?;
        let (closed, _) = tokio::sync::watch::channel(false);
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                client,
                conn: manager,
                closed,
                congested: Mutex::new(HashSet::new()),
                stats: stats::Counters::default(),
            }),
        })
    }

    /// Closes the transport: `publish` fails with [`TransportError::Closed`] and every subscription
    /// ends (its blocking read is abandoned at once; entries it held stay pending and are claimed by
    /// other consumers).
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
    }

    /// What this transport and its subscriptions did so far.
    #[must_use]
    pub fn stats(&self) -> RedisTransportStats {
        self.shared.stats.snapshot()
    }

    /// The configuration (its `Debug` hides the password).
    #[must_use]
    pub fn config(&self) -> &RedisTransportConfig {
        &self.shared.config
    }
}

#[async_trait]
impl Transport for RedisTransport {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        self.shared.publish(topic, message).await
    }

    /// Joins (creating if needed) the consumer group and opens this consumer's own connection. A
    /// group with [`SubscribeOptions::expire_after`] is removed once no reader renewed it for that
    /// long (and its topic's keys expire once it has no durable group); subscribing durably makes a
    /// group durable again.
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(TransportError::Closed);
        }
        let keys = Arc::new(shared.keys(topic));
        let expiry_ms = options.expire_after.map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        connection::join(shared, &keys, group, expiry_ms).await?;
        let consumer = format!("{}-{}", std::process::id(), MessageId::new());
        let conn = connection::connect(shared, &consumer).await?;
        let reader = Reader::new(
            Arc::clone(shared),
            keys,
            Arc::from(group),
            consumer,
            expiry_ms,
            conn,
        );
        Ok(Box::new(RedisSubscription::new(reader)))
    }

    /// `XGROUP DESTROY`, with the group's delayed entries. A topic's stream is deleted with its last
    /// group: nothing in it could be delivered to a group created later (they start at `$`). A
    /// dead-letter topic's stream is kept, with the dead letters in it.
    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(TransportError::Closed);
        }
        let keys = shared.keys(topic);
        let _: u64 = shared
            .script(
                "delete group",
                SCRIPTS
                    .delete
                    .key(&keys.stream)
                    .key(&keys.expiry)
                    .key(keys.delayed(group))
                    .arg(group)
                    .arg(u8::from(keys.dead_letters)),
            )
            .await?;
        Ok(())
    }

    /// Exact delivery counts (`XPENDING`'s times-delivered), per-topic ordering, delays kept in
    /// Redis, dead-lettering after the delivery limit, group expiry.
    fn capabilities(&self) -> Capabilities {
        let config = &self.shared.config;
        Capabilities::new(config.max_message_size)
            .with_per_topic_ordering(true)
            .with_native_delay(true)
            .with_native_dead_letter(config.delivery_limit.is_some())
            .with_delivery_count(CountPrecision::Exact)
            .with_group_expiry(true)
    }
}
