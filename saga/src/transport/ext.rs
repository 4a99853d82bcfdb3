//! Conveniences over any [`Transport`].

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use super::{Delivery, Subscription, Transport, TransportError};

/// A [`Subscription`] as a [`Stream`]; the pending `next` future lives inside the stream, so polling it
/// from a `select!` never drops a half-received message.
pub type SubscriptionStream =
    Pin<Box<dyn Stream<Item = Result<Delivery, TransportError>> + Send + 'static>>;

/// Conveniences every [`Transport`] gets for free.
#[async_trait]
pub trait TransportExt: Transport {
    /// Subscribes and turns the subscription into a [`Stream`] that ends when the transport closes.
    ///
    /// # Errors
    /// What [`Transport::subscribe`] returns.
    async fn subscribe_stream(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<SubscriptionStream, TransportError> {
        let sub = self.subscribe(topic, group).await?;
        Ok(into_stream(sub))
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
