//! The byte-level transport: publish messages to topics, consume them in groups, settle each delivery.
//!
//! # Model
//!
//! - A **topic** is a named stream of [`Message`]s.
//! - A **group** is a named, durable queue bound to a topic: *every* group receives *every* message
//!   published to the topic after the group first subscribed (fan-out), and the consumers of one group
//!   *compete* (each message goes to one of them). A point-to-point command channel is simply a topic with
//!   one group; choreography events are a topic with one group per interested service.
//! - A [`Delivery`] is settled once: [`ack`](Delivery::ack), [`nack`](Delivery::nack) (requeue), or
//!   [`dead_letter`](Delivery::dead_letter). Dropping it unsettled redelivers it: at-least-once.
//! - Dead letters keep their reason in the [`DEAD_LETTER_REASON`] header and are published to
//!   [`dead_letter_topic`]`(topic)`, so tests and operators read them with the same API. (The in-process
//!   transport also keeps the most recent ones in memory, a bounded number:
//!   [`InProcConfig::with_dead_letter_capacity`].)
//!
//! The mapping onto brokers is direct: RabbitMQ binds one durable queue per group to a topic exchange
//! (routing key = topic), consumes with manual ack, and dead-letters through a dead-letter exchange;
//! Redis Streams use one stream per topic and one consumer group per group, `XACK` on ack,
//! `XAUTOCLAIM` to redeliver abandoned entries, and a dead-letter stream.
//!
//! # Limits
//!
//! - **Size.** [`Transport::max_message_size`] (default [`DEFAULT_MAX_MESSAGE_SIZE`], 1 MiB) bounds the
//!   *whole* message: every header's name and value plus the payload, as [`Message::size`] measures
//!   them. `publish` refuses a larger message with [`TransportError::MessageTooLarge`] before copying it
//!   anywhere, and the participant runtime and the reply router measure every received message before
//!   decoding or copying anything in it. An adapter that receives string headers measures their names and
//!   values plus the payload the same way before it calls [`Headers::from_pairs`].
//! - **Text.** Dead-letter reasons and every logged value derived from a message are cut to
//!   [`MAX_BOUNDED_LEN`] bytes by [`Bounded`] / [`bounded`], so a message cannot make the runtime copy its
//!   contents into logs.
//!
//! # Why this shape
//!
//! Implementors write three methods on [`Transport`], one on [`Subscription`] and four on [`Acker`];
//! conveniences live in [`TransportExt`]. Settlement goes through a boxed [`Acker`] rather than methods on
//! the subscription so a delivery can be handed to another future (the participant runtime settles many
//! deliveries concurrently) without borrowing its subscription. `&self` everywhere on the transport, so
//! one `Arc<dyn Transport>` is shared by executors, participants and routers; a subscription is a single
//! consumer cursor and takes `&mut self`, and more consumers are made by subscribing again.

mod bounded;
mod delivery;
mod error;
mod ext;
mod headers;
pub mod inproc;
mod message;
mod message_id;
mod pairs;

use async_trait::async_trait;

pub use bounded::{bounded, Bounded, CUT_MARKER, MAX_BOUNDED_LEN};
pub use delivery::{Acker, Delivery};
pub use error::TransportError;
pub use ext::{into_stream, SubscriptionStream, TransportExt};
pub use headers::{Headers, DEAD_LETTER_REASON};
pub use inproc::{DeadLetter, InProcConfig, InProcTransport};
pub use message::{Message, MessageKind, ReplyStatus};
pub use message_id::MessageId;

/// The default message size limit: 1 MiB, headers and payload together ([`Message::size`]).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// The topic a transport publishes the dead letters of `topic` to.
#[must_use]
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// A message broker, as the saga runtime sees it. Object safe: share one `Arc<dyn Transport>`.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Publishes `message` to every group of `topic`. May wait while a group is full (backpressure).
    ///
    /// # Errors
    /// [`TransportError::MessageTooLarge`] if the message, headers included ([`Message::size`]), exceeds
    /// [`max_message_size`](Self::max_message_size) (checked before anything is encoded or copied; nothing
    /// is sent), [`TransportError::Closed`], or a backend error.
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError>;

    /// Joins `group` on `topic` (creating the group if needed) and returns one consumer of it.
    ///
    /// # Errors
    /// [`TransportError::Closed`] or a backend error.
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<Box<dyn Subscription>, TransportError>;

    /// The largest message, in bytes, this transport publishes: headers and payload, as
    /// [`Message::size`] measures them.
    fn max_message_size(&self) -> usize;
}

/// One consumer of a group.
#[async_trait]
pub trait Subscription: Send + 'static {
    /// The next delivery; `None` once the transport is closed.
    ///
    /// Must be cancel safe: dropping the returned future before it completes loses no message (the
    /// runtime selects over it).
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        (**self).publish(topic, message).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        (**self).subscribe(topic, group).await
    }

    fn max_message_size(&self) -> usize {
        (**self).max_message_size()
    }
}
