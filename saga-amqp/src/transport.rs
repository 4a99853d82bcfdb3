//! [`AmqpTransport`]: the [`Transport`] implementation.

use std::sync::Arc;

use async_trait::async_trait;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use saga::transport::{
    Capabilities, CountPrecision, Message, SubscribeOptions, Subscription, Transport,
    TransportError,
};

use crate::config::{AmqpConfig, QueueType};
use crate::connection::Connector;
use crate::error::{within, Error, Result};
use crate::names::{check_topic, Names};
use crate::publisher::Route;
use crate::secret::SecretUrl;
use crate::shared::Shared;
use crate::subscription::AmqpSubscription;
use crate::wire;

/// A [`Transport`] over RabbitMQ (AMQP 0-9-1 through lapin on tokio). Cheap to clone (an `Arc`);
/// share one per process. See the [crate docs](crate) for the topology and the guarantees.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use saga_amqp::{AmqpConfig, AmqpTransport};
/// let transport = AmqpTransport::connect(
///     "amqp://guest:guest@127.0.0.1:5672/%2f",
///     AmqpConfig::default().with_prefix("shop"),
/// )
/// .await?;
/// println!("{transport:?}"); // AmqpTransport { url: amqp://guest:***@127.0.0.1:5672/%2f, …
/// let transport: Arc<dyn saga::Transport> = Arc::new(transport);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AmqpTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("url", self.shared.connector.url())
            .field("prefix", &self.shared.config.prefix)
            .field("queue_type", &self.shared.config.queue_type)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl AmqpTransport {
    /// Connects to the broker at `url` and declares the exchanges.
    ///
    /// # Errors
    /// [`Error::InvalidPrefix`] / [`Error::InvalidConfig`] for a bad configuration, [`Error::Connect`]
    /// (with the password redacted) if the broker cannot be reached or refuses the credentials.
    pub async fn connect(url: &str, config: AmqpConfig) -> Result<Self> {
        config.validate()?;
        let secret = SecretUrl::new(url);
        let names = Names::new(&config.prefix);
        let connector = Arc::new(Connector::new(
            secret.clone(),
            config.clone(),
            names.clone(),
        ));
        if let Err(e) = connector.current().await {
            return Err(Error::Connect {
                url: secret.to_string(),
                message: secret.scrub(&e.to_string()).into_owned(),
                transient: e.is_transient(),
                source: None,
            });
        }
        Ok(Self {
            shared: Arc::new(Shared::new(config, names, connector)),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AmqpConfig {
        &self.shared.config
    }

    /// Whether the connection to the broker is up right now (a health check).
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shared.connector.is_connected()
    }

    /// How many connections this transport has made: 1, plus one per reconnect.
    #[must_use]
    pub fn connections(&self) -> u64 {
        self.shared.connector.generation()
    }

    /// The queue of `group` on `topic` (for operators and the management UI).
    ///
    /// # Errors
    /// A permanent error for a topic that cannot be a routing key.
    pub fn queue_name(&self, topic: &str, group: &str) -> Result<String, TransportError> {
        Ok(self.shared.names.group(topic, group)?.queue)
    }

    /// The queue that keeps the dead letters of `group` on `topic` (`<queue>.dead-letter`).
    ///
    /// # Errors
    /// A permanent error for a topic that cannot be a routing key.
    pub fn dead_letter_queue_name(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<String, TransportError> {
        Ok(self.shared.names.group(topic, group)?.dead_letter_queue)
    }

    /// Closes the transport: publishing fails with [`TransportError::Closed`], subscriptions end
    /// (unsettled deliveries go back to their queues), and the connection is closed.
    pub async fn close(&self) {
        self.shared.closed.send_replace(true);
        self.shared.publisher.close();
        self.shared.connector.close().await;
    }

    /// Deletes every queue this transport declared (groups, their dead-letter queues, delay levels)
    /// and its three exchanges, with whatever they hold: the end of a test or of a prefix. Other
    /// transports on the same prefix lose their topology too.
    ///
    /// # Errors
    /// A backend error; what was deleted before it stays deleted.
    pub async fn delete_declared(&self) -> Result<(), TransportError> {
        let live = self.shared.connector.current().await?;
        let channel = live.channel().await?;
        let queues: Vec<String> = self.shared.declared.lock().iter().cloned().collect();
        for queue in &queues {
            let delete = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default());
            within("queue.delete", delete).await?;
            self.shared.declared.lock().remove(queue);
        }
        let names = &self.shared.names;
        for exchange in [&names.topics, &names.dead_letters, &names.delays] {
            let options = ExchangeDeleteOptions::default();
            within(
                "exchange.delete",
                channel.exchange_delete(exchange.as_str().into(), options),
            )
            .await?;
        }
        let _ = within("channel.close", channel.close(200, "OK".into())).await;
        Ok(())
    }
}

#[async_trait]
impl Transport for AmqpTransport {
    /// Publishes to the topic exchange with routing key `topic`, persistent, and waits for the
    /// broker's confirm. Not mandatory: a topic nobody subscribed to is fan-out to zero groups, `Ok`.
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(TransportError::Closed);
        }
        let (size, limit) = (message.size(), shared.config.max_message_size);
        if size > limit {
            return Err(TransportError::MessageTooLarge { size, limit });
        }
        check_topic(topic)?;
        let properties = wire::properties(&message, &[])?;
        let route = Route {
            exchange: &shared.names.topics,
            routing_key: topic,
            mandatory: false,
        };
        shared
            .publisher
            .publish(route, &message.payload, properties)
            .await
    }

    /// Declares the group's queue (and dead-letter queue) bound to the topic, then consumes it on a
    /// channel of its own. `options.expire_after` becomes `x-expires` on both queues.
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
        let names = Arc::new(shared.names.group(topic, group)?);
        shared.deleted.lock().remove(&names.queue);
        let sub = AmqpSubscription::start(Arc::clone(shared), names, options.expire_after).await?;
        Ok(Box::new(sub))
    }

    /// Deletes the group's queue and its dead-letter queue (`queue.delete`; unknown queues are fine).
    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(TransportError::Closed);
        }
        let names = shared.names.group(topic, group)?;
        shared.deleted.lock().insert(names.queue.clone());
        let live = shared.connector.current().await?;
        let channel = live.channel().await?;
        for queue in [&names.queue, &names.dead_letter_queue] {
            let delete = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default());
            within("queue.delete", delete).await?;
            shared.declared.lock().remove(queue);
        }
        let _ = within("channel.close", channel.close(200, "OK".into())).await;
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        let config = &self.shared.config;
        let quorum = config.queue_type == QueueType::Quorum;
        Capabilities::new(config.max_message_size)
            .with_per_topic_ordering(true)
            .with_native_delay(true)
            .with_native_dead_letter(quorum)
            .with_delivery_count(if quorum {
                CountPrecision::Exact
            } else {
                CountPrecision::AtLeast
            })
            .with_group_expiry(true)
    }
}
