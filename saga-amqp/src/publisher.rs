//! Publishing with confirms: one confirm-mode channel per transport, shared by every publisher, with at
//! most `confirm_window` publishes awaiting their confirms at once. Publishes pipeline (each one
//! sends, then waits for its own confirm while others send), and `publish` returns only once the
//! broker confirmed.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation};
use parking_lot::Mutex;
use saga::transport::{bounded, TransportError};
use tokio::sync::Semaphore;

use crate::connection::Connector;
use crate::error::{transient, transport_error, within};

/// How long a publish waits for its confirm before it fails with a transient timeout.
pub(crate) const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a message goes.
pub(crate) struct Route<'a> {
    pub(crate) exchange: &'a str,
    pub(crate) routing_key: &'a str,
    /// Set where a queue must be bound (dead letters, delays): a returned message is then an error.
    pub(crate) mandatory: bool,
}

pub(crate) struct Publisher {
    connector: Arc<Connector>,
    window: Semaphore,
    channel: Mutex<Option<(u64, Channel)>>,
    opening: tokio::sync::Mutex<()>,
}

impl Publisher {
    pub(crate) fn new(connector: Arc<Connector>, window: usize) -> Self {
        Self {
            connector,
            window: Semaphore::new(window),
            channel: Mutex::new(None),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    fn open_channel(&self) -> Option<Channel> {
        let current = self.channel.lock();
        current
            .as_ref()
            .filter(|(_, c)| c.status().connected())
            .map(|(_, c)| c.clone())
    }

    /// The confirm channel, opened (on the current connection) if there is none or it died.
    async fn channel(&self) -> Result<Channel, TransportError> {
        if let Some(channel) = self.open_channel() {
            return Ok(channel);
        }
        let _opening = self.opening.lock().await;
        if let Some(channel) = self.open_channel() {
            return Ok(channel);
        }
        let live = self.connector.current().await?;
        let channel = live.channel().await?;
        let select = channel.confirm_select(ConfirmSelectOptions::default());
        within("confirm.select", select).await?;
        *self.channel.lock() = Some((live.generation, channel.clone()));
        Ok(channel)
    }

    /// Publishes `payload` and waits for the broker's confirm.
    ///
    /// # Errors
    /// A transient error if the connection or channel failed, the broker nacked the message, did not
    /// confirm it within [`CONFIRM_TIMEOUT`], or returned a mandatory message (no queue bound);
    /// [`TransportError::Closed`] after `close`.
    pub(crate) async fn publish(
        &self,
        route: Route<'_>,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), TransportError> {
        let _slot = self
            .window
            .acquire()
            .await
            .map_err(|_| TransportError::Closed)?;
        let channel = self.channel().await?;
        let options = BasicPublishOptions {
            mandatory: route.mandatory,
            immediate: false,
        };
        let publish = channel.basic_publish(
            route.exchange.into(),
            route.routing_key.into(),
            options,
            payload,
            properties,
        );
        let confirm = within("basic.publish", publish).await?;
        let confirmation = match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Err(_) => {
                return Err(TransportError::Timeout {
                    operation: "publish confirm",
                })
            }
            Ok(result) => result.map_err(|e| transport_error("publish confirm", e))?,
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(transient(format_args!(
                "message to {:?} with routing key {:?} returned by the broker: {} {}",
                route.exchange,
                bounded(route.routing_key),
                returned.reply_code,
                returned.reply_text
            ))),
            Confirmation::Nack(_) => Err(transient(format_args!(
                "the broker refused (nacked) the message to {:?}",
                route.exchange
            ))),
            Confirmation::NotRequested => {
                Err(transient("the publishing channel is not in confirm mode"))
            }
        }
    }

    /// Stops new publishes.
    pub(crate) fn close(&self) {
        self.window.close();
        self.channel.lock().take();
    }
}
