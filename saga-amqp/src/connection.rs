//! The one connection a transport shares: connecting with a timeout, reconnecting with backoff after a
//! loss (one attempt at a time, however many callers notice), declaring the exchanges on every new
//! connection, and reporting it all as `tracing` events.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_rs::Runtime;
use lapin::{Channel, Connection, ConnectionProperties};
use parking_lot::Mutex;
use rand::Rng;
use saga::transport::{bounded, TransportError};

use crate::config::AmqpConfig;
use crate::error::{is_transient, within};
use crate::names::Names;
use crate::secret::SecretUrl;
use crate::topology;

/// A live connection and its generation (1 for the first, +1 per reconnect).
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) generation: u64,
    pub(crate) connection: Arc<Connection>,
}

impl Live {
    /// A new channel on this connection.
    pub(crate) async fn channel(&self) -> Result<Channel, TransportError> {
        within("channel.open", self.connection.create_channel()).await
    }
}

/// When the next connection attempt may be made.
#[derive(Default)]
struct Backoff {
    failures: u32,
    next_attempt: Option<Instant>,
}

/// The transport's connection, reconnected on demand.
pub(crate) struct Connector {
    url: SecretUrl,
    config: AmqpConfig,
    names: Names,
    current: Mutex<Option<Live>>,
    attempt: tokio::sync::Mutex<Backoff>,
    generation: AtomicU64,
    closed: AtomicBool,
}

/// The wait before retry number `failures` (1-based): `min` doubling up to `max`, with up to 25 %
/// random jitter so that many clients do not reconnect in step.
pub(crate) fn backoff(config: &AmqpConfig, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = config
        .min_backoff
        .saturating_mul(1 << exp)
        .min(config.max_backoff);
    let jitter = rand::thread_rng().gen_range(0.0..0.25);
    base.mul_f64(1.0 + jitter).min(config.max_backoff)
}

impl Connector {
    pub(crate) fn new(url: SecretUrl, config: AmqpConfig, names: Names) -> Self {
        Self {
            url,
            config,
            names,
            current: Mutex::new(None),
            attempt: tokio::sync::Mutex::new(Backoff::default()),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn url(&self) -> &SecretUrl {
        &self.url
    }

    /// How many connections were made (the first one included).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Whether the current connection is up.
    pub(crate) fn is_connected(&self) -> bool {
        self.live().is_some()
    }

    fn live(&self) -> Option<Live> {
        let current = self.current.lock();
        current
            .as_ref()
            .filter(|l| l.connection.status().connected())
            .cloned()
    }

    /// The live connection, connecting first if there is none. While the broker stays unreachable
    /// this fails fast (a transient [`TransportError::Connection`]) until the backoff allows the next
    /// attempt: callers never queue behind a broker that is down.
    pub(crate) async fn current(&self) -> Result<Live, TransportError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TransportError::Closed);
        }
        if let Some(live) = self.live() {
            return Ok(live);
        }
        let mut state = self.attempt.lock().await;
        if let Some(live) = self.live() {
            return Ok(live);
        }
        if let Some(at) = state.next_attempt {
            let now = Instant::now();
            if now < at {
                return Err(TransportError::connection(format!(
                    "rabbitmq at {} is unreachable; next connection attempt in {} ms",
                    self.url,
                    (at - now).as_millis()
                )));
            }
        }
        let lost = self.current.lock().take().is_some();
        if lost {
            tracing::warn!(url = %self.url, "amqp connection lost; reconnecting");
        }
        match self.connect().await {
            Ok(connection) => {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                let live = Live {
                    generation,
                    connection: Arc::new(connection),
                };
                *self.current.lock() = Some(live.clone());
                if generation > 1 {
                    tracing::info!(url = %self.url, generation, failures = state.failures, "amqp connection re-established");
                } else {
                    tracing::debug!(url = %self.url, "amqp connection established");
                }
                *state = Backoff::default();
                Ok(live)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                let wait = backoff(&self.config, state.failures);
                state.next_attempt = Some(Instant::now() + wait);
                tracing::warn!(
                    url = %self.url, failures = state.failures, retry_in_ms = wait.as_millis() as u64,
                    error = %e, "amqp connection attempt failed"
                );
                Err(e)
            }
        }
    }

    /// One connection attempt: connect within the timeout, then declare the exchanges.
    pub(crate) async fn connect(&self) -> Result<Connection, TransportError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("saga-amqp {}", self.names.prefix()).into());
        let attempt = Connection::connect_with_runtime(
            self.url.expose(),
            properties,
            Runtime::tokio_current(),
        );
        let connection = match tokio::time::timeout(self.config.connect_timeout, attempt).await {
            Err(_) => {
                return Err(TransportError::Timeout {
                    operation: "connect",
                })
            }
            Ok(Err(e)) => {
                let transient = is_transient(&e);
                let message = bounded(self.url.scrub(&e.to_string()));
                return Err(TransportError::Backend {
                    message: format!("connect: {message}"),
                    transient: transient || e.is_io_error(),
                    source: None,
                });
            }
            Ok(Ok(c)) => c,
        };
        let channel = within("channel.open", connection.create_channel()).await?;
        let declare = topology::declare_exchanges(&channel, &self.names);
        within("exchange.declare", declare).await?;
        let _ = within("channel.close", channel.close(200, "OK".into())).await;
        Ok(connection)
    }

    /// Closes the connection; every later call fails with [`TransportError::Closed`].
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let current = self.current.lock().take();
        if let Some(live) = current {
            let _ = within("connection.close", live.connection.close(200, "OK".into())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let config = AmqpConfig::default()
            .with_reconnect_backoff(Duration::from_millis(100), Duration::from_secs(1));
        let first = backoff(&config, 1);
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(125));
        let third = backoff(&config, 3);
        assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(500));
        assert_eq!(backoff(&config, 40), Duration::from_secs(1));
    }
}
