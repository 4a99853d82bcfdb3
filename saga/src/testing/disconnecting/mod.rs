//! A [`Transport`] wrapper that loses its connection on demand, to test what the contract says about
//! connection loss against any transport.

mod link;
mod subscription;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use link::Link;
use subscription::{Backoff, DisconnectingSubscription};

use crate::transport::{
    Capabilities, Message, SubscribeOptions, Subscription, Transport, TransportError,
};

/// Wraps a transport and simulates dropped connections, the way a broker adapter sees them.
///
/// - [`disconnect`](Self::disconnect) drops the connection once. Every open subscription yields one
///   `Err(TransportError::Connection { .. })`, drops its inner subscription and subscribes again (with
///   backoff, on tokio's clock), then keeps yielding deliveries. Every delivery handed out before the
///   cut and not yet settled is abandoned at once, so the inner transport delivers it again; settling
///   it afterwards (`ack`, `requeue`, `dead_letter`) fails with a connection error instead of
///   succeeding silently, like an ack on a dead AMQP channel.
/// - [`outage`](Self::outage) drops it and keeps it down until the returned guard is dropped:
///   meanwhile `publish`, `subscribe` and `delete_group` fail with a transient connection error and
///   subscriptions keep trying.
/// - [`close`](Self::close) closes the wrapper: its subscriptions end (`None`), calls fail with
///   [`TransportError::Closed`]. The inner transport is left open.
///
/// Every other call is forwarded untouched; with no disconnect it behaves exactly like the inner
/// transport (and passes the conformance suite as such).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use saga::testing::DisconnectingTransport;
/// use saga::transport::{InProcTransport, Message, MessageKind, Transport, TransportExt};
///
/// let link = DisconnectingTransport::new(Arc::new(InProcTransport::new()));
/// let mut sub = link.subscribe_durable("orders", "billing").await?;
/// link.publish("orders", Message::new(MessageKind::Event, "hello")).await?;
/// let first = sub.next().await.expect("open")?;
/// link.disconnect();
/// assert!(sub.next().await.expect("open").is_err(), "the loss is reported once");
/// assert!(first.ack().await.is_err(), "an ack over the lost connection fails");
/// let again = sub.next().await.expect("open")?; // subscribed again: the message comes back
/// assert_eq!(&again.message().payload[..], b"hello");
/// again.ack().await?;
/// # Ok::<_, saga::transport::TransportError>(()) }).unwrap();
/// ```
pub struct DisconnectingTransport {
    inner: Arc<dyn Transport>,
    link: Arc<Link>,
    backoff: Backoff,
}

impl std::fmt::Debug for DisconnectingTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisconnectingTransport")
            .field("status", &self.link.status())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Counters of a [`DisconnectingTransport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Connection losses ([`disconnect`](DisconnectingTransport::disconnect) and
    /// [`outage`](DisconnectingTransport::outage) calls).
    pub disconnects: u64,
    /// Subscriptions made again after a loss.
    pub reconnects: u64,
    /// Unsettled deliveries abandoned by a loss (the inner transport delivers them again).
    pub cut_deliveries: u64,
    /// Settlements refused because the delivery's connection was lost.
    pub stale_settlements: u64,
    /// Calls and subscription attempts refused during an outage.
    pub refused: u64,
}

/// An outage of a [`DisconnectingTransport`]: the connection stays down until this is dropped.
#[must_use = "the outage ends when this is dropped"]
pub struct Outage {
    link: Arc<Link>,
}

impl std::fmt::Debug for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outage").finish_non_exhaustive()
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.link.end_outage();
    }
}

impl DisconnectingTransport {
    /// Wraps `inner`; subscriptions back off from 10 ms to 1 s between attempts to subscribe again.
    #[must_use]
    pub fn new(inner: Arc<dyn Transport>) -> Self {
        Self {
            inner,
            link: Arc::new(Link::new()),
            backoff: Backoff {
                first: Duration::from_millis(10),
                max: Duration::from_secs(1),
            },
        }
    }

    /// The backoff between attempts to subscribe again: `first`, doubling up to `max`. Applies to
    /// subscriptions made afterwards.
    #[must_use]
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = Backoff {
            first,
            max: max.max(first),
        };
        self
    }

    /// Drops the connection once; subscriptions report it and subscribe again at once.
    pub fn disconnect(&self) {
        self.link.cut(false);
    }

    /// Drops the connection and keeps it down until the returned guard is dropped.
    pub fn outage(&self) -> Outage {
        self.link.cut(true);
        Outage {
            link: Arc::clone(&self.link),
        }
    }

    /// Closes this wrapper (not the inner transport): subscriptions end, calls fail with `Closed`.
    pub fn close(&self) {
        self.link.close();
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> ConnectionStats {
        let c = &self.link.counters;
        ConnectionStats {
            disconnects: c.disconnects.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            cut_deliveries: c.cut_deliveries.load(Ordering::Relaxed),
            stale_settlements: c.stale_settlements.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Transport for DisconnectingTransport {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        self.link.check_up()?;
        self.inner.publish(topic, message).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let wake = self.link.watch();
        let generation = self.link.status().generation;
        self.link.check_up()?;
        let inner = self.inner.subscribe(topic, group, options).await?;
        Ok(Box::new(DisconnectingSubscription {
            transport: Arc::clone(&self.inner),
            link: Arc::clone(&self.link),
            wake,
            topic: topic.to_owned(),
            group: group.to_owned(),
            options,
            backoff: self.backoff,
            inner: Some((generation, inner)),
        }))
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        self.link.check_up()?;
        self.inner.delete_group(topic, group).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{InProcTransport, MessageKind, TransportExt as _};

    #[tokio::test(start_paused = true)]
    async fn subscriptions_back_off_during_an_outage_and_resume_after_it() {
        let link = DisconnectingTransport::new(Arc::new(InProcTransport::new()));
        let mut sub = link.subscribe_durable("t", "g").await.expect("subscribe");
        let outage = link.outage();
        assert!(matches!(
            sub.next().await,
            Some(Err(TransportError::Connection { .. }))
        ));
        // Attempts at 0, 10, 30, 70, 150, 310 and 630 ms: the backoff doubles from 10 ms.
        let waited = tokio::time::timeout(Duration::from_millis(700), sub.next()).await;
        assert!(waited.is_err(), "nothing is delivered during the outage");
        assert_eq!(link.stats().refused, 7, "{:?}", link.stats());
        let during = link
            .publish("t", Message::new(MessageKind::Event, "x"))
            .await;
        assert!(matches!(during, Err(e) if e.is_transient()));
        drop(outage);
        link.publish("t", Message::new(MessageKind::Event, "after"))
            .await
            .expect("publish");
        let d = sub.next().await.expect("open").expect("delivery");
        assert_eq!(&d.message().payload[..], b"after");
        d.ack().await.expect("ack");
        assert_eq!(link.stats().reconnects, 1);
        link.close();
        assert!(
            sub.next().await.is_none(),
            "a closed transport ends its subscriptions"
        );
    }
}
