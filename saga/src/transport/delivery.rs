//! A received message and how it is settled.

use std::fmt;

use async_trait::async_trait;

use super::{Message, TransportError};

/// The backend side of settling one [`Delivery`]; adapters implement it (an AMQP delivery tag, a Redis
/// stream entry id, an in-process queue slot).
///
/// Each method consumes the acker: a delivery is settled exactly once. The message is handed back where
/// the backend may need it (to requeue it in process, to copy it to a dead-letter stream).
#[async_trait]
pub trait Acker: Send + Sync + 'static {
    /// Done: never deliver it again.
    async fn ack(self: Box<Self>) -> Result<(), TransportError>;
    /// Deliver it again (to this group; any consumer of the group may get it).
    async fn requeue(self: Box<Self>, message: Message) -> Result<(), TransportError>;
    /// Never deliver it again; keep it where operators find dead letters, with `reason`.
    async fn dead_letter(
        self: Box<Self>,
        message: Message,
        reason: &str,
    ) -> Result<(), TransportError>;
    /// The delivery was dropped unsettled (its consumer failed or gave up): it must be delivered again
    /// later. Called from `Drop`, so it must not block; a backend whose broker redelivers by itself
    /// (Redis `XAUTOCLAIM`, an AMQP channel close) may do nothing here.
    fn abandon(self: Box<Self>, message: Message);
}

/// One delivery of a message to one consumer of a group.
///
/// Settle it with [`ack`](Self::ack), [`nack`](Self::nack) or [`dead_letter`](Self::dead_letter). A
/// delivery dropped unsettled is delivered again (at-least-once), so a crashing handler never loses a
/// message.
pub struct Delivery {
    message: Message,
    deliveries: u32,
    acker: Option<Box<dyn Acker>>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message_id", &self.message.headers.message_id)
            .field("kind", &self.message.headers.kind)
            .field("size", &self.message.size())
            .field("deliveries", &self.deliveries)
            .field("settled", &self.acker.is_none())
            .finish()
    }
}

impl Delivery {
    /// A delivery settled through `acker`; `deliveries` counts this delivery (1 the first time).
    #[must_use]
    pub fn new(message: Message, deliveries: u32, acker: Box<dyn Acker>) -> Self {
        Self {
            message,
            deliveries,
            acker: Some(acker),
        }
    }

    /// A delivery whose settlement does nothing (a copy made by a test double, a duplicate).
    #[must_use]
    pub fn detached(message: Message, deliveries: u32) -> Self {
        Self {
            message,
            deliveries,
            acker: None,
        }
    }

    /// The message.
    #[must_use]
    pub const fn message(&self) -> &Message {
        &self.message
    }

    /// How many times this message has been delivered to this group, this delivery included.
    #[must_use]
    pub const fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// Settles the delivery as done.
    ///
    /// # Errors
    /// The backend's error; the message may then be delivered again.
    pub async fn ack(mut self) -> Result<(), TransportError> {
        match self.acker.take() {
            Some(acker) => acker.ack().await,
            None => Ok(()),
        }
    }

    /// Gives the message back: with `requeue` it is delivered again; without, it is dead-lettered with the
    /// reason `"rejected"` (AMQP `basic.reject` with a dead-letter exchange).
    ///
    /// # Errors
    /// The backend's error.
    pub async fn nack(mut self, requeue: bool) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let message = std::mem::replace(&mut self.message, Message::placeholder());
        if requeue {
            acker.requeue(message).await
        } else {
            acker.dead_letter(message, "rejected").await
        }
    }

    /// Moves the message to the dead letters with `reason`; it is never delivered again.
    ///
    /// # Errors
    /// The backend's error.
    pub async fn dead_letter(mut self, reason: &str) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let message = std::mem::replace(&mut self.message, Message::placeholder());
        acker.dead_letter(message, reason).await
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(acker) = self.acker.take() {
            acker.abandon(std::mem::replace(&mut self.message, Message::placeholder()));
        }
    }
}
