//! The two transports under test, on the shared local brokers under a random prefix.

use std::sync::Arc;
use std::time::Duration;

use saga::Transport;
use saga_amqp::{AmqpConfig, AmqpTransport};
use saga_redis::{RedisTransport, RedisTransportConfig};

/// A connected transport of either kind.
#[derive(Clone)]
pub enum Backend {
    /// Redis Streams.
    Redis(RedisTransport),
    /// RabbitMQ.
    Amqp(AmqpTransport),
}

impl Backend {
    /// Connects a transport of `kind` (`redis` or `amqp`) to `url` under `prefix`, redelivering soon
    /// after a consumer dies (Redis claims entries idle for 1 s; RabbitMQ requeues a dead connection's
    /// deliveries at once).
    pub async fn connect(kind: &str, url: &str, prefix: &str) -> Result<Self, String> {
        match kind {
            "redis" => {
                let config = RedisTransportConfig::new(url)
                    .with_key_prefix(prefix)
                    .with_block_time(Duration::from_millis(500))
                    .with_claim_idle(Duration::from_secs(1))
                    .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(500));
                RedisTransport::connect(config)
                    .await
                    .map(Self::Redis)
                    .map_err(|e| e.to_string())
            }
            "amqp" => {
                let config = AmqpConfig::default()
                    .with_prefix(prefix)
                    .with_connect_timeout(Duration::from_secs(3))
                    .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500));
                AmqpTransport::connect(url, config)
                    .await
                    .map(Self::Amqp)
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("unknown transport {other}")),
        }
    }

    /// The transport, for participants and routers.
    pub fn transport(&self) -> Arc<dyn Transport> {
        match self {
            Self::Redis(t) => Arc::new(t.clone()),
            Self::Amqp(t) => Arc::new(t.clone()),
        }
    }

    /// Deletes everything of the prefix (streams and groups, or the declared queues and exchanges)
    /// and closes the transport.
    pub async fn delete(&self) {
        match self {
            Self::Redis(t) => {
                if let Err(e) = t.delete_all().await {
                    eprintln!("cleanup of {} failed: {e}", t.config().key_prefix());
                }
                t.close();
            }
            Self::Amqp(t) => {
                if let Err(e) = t.delete_declared().await {
                    eprintln!("cleanup of {} failed: {e}", t.config().prefix());
                }
                t.close().await;
            }
        }
    }
}
