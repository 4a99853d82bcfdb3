//! Conveniences over any [`Transport`].

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use super::{Delivery, SubscribeOptions, Subscription, Transport, TransportError};

/// A [`Subscription`] as a [`Stream`]; the pending `next` future lives inside the stream, so polling it
/// from a `select!` never drops a half-received message.
pub type SubscriptionStream =
    Pin<Box<dyn Stream<Item = Result<Delivery, TransportError>> + Send + 'static>>;

/// Conveniences every [`Transport`] gets for free.
#[async_trait]
pub trait TransportExt: Transport {
    /// Joins a durable `group` on `topic` ([`SubscribeOptions::durable`]).
    ///
    /// # Errors
    /// What [`Transport::subscribe`] returns.
    async fn subscribe_durable(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        self.subscribe(topic, group, SubscribeOptions::durable())
            .await
    }

    /// Subscribes to a durable group and turns the subscription into a [`Stream`] that ends when the
    /// transport closes.
    ///
    /// # Errors
    /// What [`Transport::subscribe`] returns.
    async fn subscribe_stream(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<SubscriptionStream, TransportError> {
        let sub = self.subscribe_durable(topic, group).await?;
        Ok(into_stream(sub))
    }

    /// The largest message this transport publishes ([`Capabilities::max_message_size`](super::Capabilities)).
    fn max_message_size(&self) -> usize {
        self.capabilities().max_message_size
    }
}

impl<T: Transport + ?Sized> TransportExt for T {}

/// Turns a subscription into a [`Stream`].
#[must_use]
pub fn into_stream(sub: Box<dyn Subscription>) -> SubscriptionStream {
    Box::pin(futures::stream::unfold(sub, |mut sub| async move {
        let item = sub.next().await?;
        Some((item, sub))
    }))
}
