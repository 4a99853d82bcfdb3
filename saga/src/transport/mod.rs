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
//! - **Size.** [`Capabilities::max_message_size`] (default [`DEFAULT_MAX_MESSAGE_SIZE`], 1 MiB) bounds the
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
mod capabilities;
mod delivery;
mod error;
mod ext;
pub mod guide;
mod headers;
pub mod inproc;
mod message;
mod message_id;
mod pairs;

use async_trait::async_trait;

pub use bounded::{bounded, Bounded, CUT_MARKER, MAX_BOUNDED_LEN};
pub use capabilities::{Capabilities, CountPrecision, SubscribeOptions};
pub use delivery::{Acker, Delivery, DeliveryCount};
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
///
/// # Contract
///
/// Every adapter is held to these rules by the shared conformance suite
/// ([`crate::testing::conformance::transport`]); [`guide`] explains each and names its check.
///
/// - **Durable publish.** `publish` returns `Ok` only once the broker has the message durably (a
///   publisher confirm, an `XADD` reply); a message published with `Ok` is delivered to every group of
///   the topic that existed at the time, even if the publisher stops right after.
/// - **One subscription per (topic, group).** A group is scoped to its topic: the same group name
///   subscribed on two topics is two independent groups, each receiving only its own topic's messages.
/// - **Settle once, at-least-once.** A delivery is acked, requeued (with a delay) or dead-lettered once;
///   dropped unsettled, it is delivered again. The participant runtime acks a command only after the
///   reply publish returned `Ok`.
/// - **Delivery counts** as precise as the broker gives them ([`DeliveryCount`], declared in
///   [`Capabilities::delivery_count`]).
/// - **Requeue with a delay** that holds no consumer slot or prefetch credit while it waits.
/// - **Connection loss.** A [`Subscription`] survives a dropped connection: it reconnects with backoff,
///   re-declares what it needs, may yield transient errors meanwhile, and keeps yielding deliveries; it
///   returns `None` only once the transport is closed. `publish` during an outage fails with a
///   transient error (never blocks forever, never reports `Ok` for a message the broker lacks).
/// - **Bad input.** A message over [`Capabilities::max_message_size`] is refused on publish; adapters
///   measure a received message before decoding its headers.
/// - **Capabilities** are declared, not assumed: [`capabilities`](Self::capabilities).
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Publishes `message` to every group of `topic`; returns once the broker has it durably. May wait
    /// while a group is full (backpressure).
    ///
    /// # Errors
    /// [`TransportError::MessageTooLarge`] if the message exceeds
    /// [`Capabilities::max_message_size`] (nothing is sent), [`TransportError::Closed`], or a backend
    /// error (transient during a connection loss: the caller may publish again, and consumers
    /// deduplicate).
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError>;

    /// Joins `group` on `topic` (creating the group if needed) and returns one consumer of it.
    ///
    /// # Errors
    /// [`TransportError::Closed`] or a backend error.
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError>;

    /// Removes `group` of `topic` and every message it holds (a reply channel on clean shutdown).
    /// Removing a group that does not exist is `Ok`.
    ///
    /// # Errors
    /// [`TransportError::Closed`] or a backend error.
    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError>;

    /// What this transport can do.
    fn capabilities(&self) -> Capabilities;
}

/// One consumer of a group.
#[async_trait]
pub trait Subscription: Send + 'static {
    /// The next delivery; `None` once the transport is closed. While the connection is down it keeps
    /// trying (with backoff) and may yield transient errors; it never ends because of a connection loss.
    ///
    /// Must be cancel safe: dropping the returned future before it completes loses no message (the
    /// runtime selects over it).
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>>;
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        (**self).publish(topic, message).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        (**self).subscribe(topic, group, options).await
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        (**self).delete_group(topic, group).await
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
}
