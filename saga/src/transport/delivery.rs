//! A received message and how it is settled.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use super::{Message, TransportError};

/// How many times a message has been delivered to its group, this delivery included, as precisely as
/// the broker says (see [`CountPrecision`](super::CountPrecision)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryCount {
    /// Exactly this many (1 the first time).
    Exact(u32),
    /// At least this many (an AMQP `redelivered` flag is `AtLeast(2)`).
    AtLeast(u32),
    /// The broker does not say.
    Unknown,
}

impl DeliveryCount {
    /// The count, or the least it can be (1 when unknown: this delivery).
    #[must_use]
    pub const fn at_least(self) -> u32 {
        match self {
            Self::Exact(n) | Self::AtLeast(n) => n,
            Self::Unknown => 1,
        }
    }

    /// Whether the message has certainly been delivered more than `max` times.
    #[must_use]
    pub const fn exceeds(self, max: u32) -> bool {
        self.at_least() > max
    }

    /// The exact count, if known.
    #[must_use]
    pub const fn exact(self) -> Option<u32> {
        match self {
            Self::Exact(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::AtLeast(n) => write!(f, "at least {n}"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// The backend side of settling one [`Delivery`]; adapters implement it (an AMQP delivery tag, a Redis
/// stream entry id, an in-process queue slot).
///
/// Each method consumes the acker: a delivery is settled exactly once. The message is handed back where
/// the backend may need it (to requeue it in process, to copy it to a dead-letter stream).
#[async_trait]
pub trait Acker: Send + Sync + 'static {
    /// Done: never deliver it again.
    async fn ack(self: Box<Self>) -> Result<(), TransportError>;
    /// Deliver it again (to this group; any consumer of the group may get it), no sooner than `delay`
    /// from now.
    ///
    /// Returns as soon as the requeue is arranged, not after the delay: the consumer that held the
    /// delivery is free at once, and nothing of it (a concurrency slot, an AMQP prefetch credit, a Redis
    /// pending-entry claim by this consumer) is held while the delay runs. Brokers with
    /// [`Capabilities::native_delay`](super::Capabilities::native_delay) delay it themselves; others
    /// keep a timer (and say in their docs what a crash during the delay does: usually the message is
    /// redelivered early, never lost).
    async fn requeue(
        self: Box<Self>,
        message: Message,
        delay: Duration,
    ) -> Result<(), TransportError>;
    /// Never deliver it again; keep it where operators find dead letters, with `reason`.
    async fn dead_letter(
        self: Box<Self>,
        message: Message,
        reason: &str,
    ) -> Result<(), TransportError>;
    /// The delivery was dropped unsettled (its consumer failed or gave up): it must be delivered again
    /// later.
    ///
    /// Called from [`Delivery`]'s `Drop`, possibly outside any async runtime (a value dropped on a plain
    /// thread, at runtime shutdown): it must **never block and never panic**, and must not assume a
    /// tokio runtime (use `tokio::runtime::Handle::try_current` before spawning, and do nothing if there
    /// is none). A backend whose broker redelivers by itself (Redis `XAUTOCLAIM` after the idle time, an
    /// AMQP channel close or an unacked tag on reconnect) may do nothing here.
    fn abandon(self: Box<Self>, message: Message);
}

/// One delivery of a message to one consumer of a group.
///
/// Settle it with [`ack`](Self::ack), [`nack`](Self::nack) or [`dead_letter`](Self::dead_letter). A
/// delivery dropped unsettled is delivered again (at-least-once), so a crashing handler never loses a
/// message.
pub struct Delivery {
    message: Message,
    deliveries: DeliveryCount,
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
    /// A delivery settled through `acker`; `deliveries` counts this delivery (`Exact(1)` the first time)
    /// as precisely as the broker says.
    #[must_use]
    pub fn new(message: Message, deliveries: DeliveryCount, acker: Box<dyn Acker>) -> Self {
        Self {
            message,
            deliveries,
            acker: Some(acker),
        }
    }

    /// A delivery whose settlement does nothing (a copy made by a test double, a duplicate).
    #[must_use]
    pub fn detached(message: Message, deliveries: DeliveryCount) -> Self {
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
    pub const fn deliveries(&self) -> DeliveryCount {
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

    /// Gives the message back: with `requeue` it is delivered again at once; without, it is
    /// dead-lettered with the reason `"rejected"` (AMQP `basic.reject` with a dead-letter exchange).
    ///
    /// # Errors
    /// The backend's error.
    pub async fn nack(self, requeue: bool) -> Result<(), TransportError> {
        if requeue {
            self.requeue(Duration::ZERO).await
        } else {
            self.dead_letter("rejected").await
        }
    }

    /// Delivers the message again, no sooner than `delay` from now. Returns once the requeue is
    /// arranged; the consumer holds nothing of this delivery while the delay runs
    /// (see [`Acker::requeue`]).
    ///
    /// # Errors
    /// The backend's error; the message is then delivered again anyway (at-least-once).
    pub async fn requeue(mut self, delay: Duration) -> Result<(), TransportError> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let message = std::mem::replace(&mut self.message, Message::placeholder());
        acker.requeue(message, delay).await
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
