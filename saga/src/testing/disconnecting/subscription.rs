//! A consumer of a disconnecting transport: on a cut it reports the loss once, drops its inner
//! subscription, and subscribes again with backoff until the link is up.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::link::{bump, Link};
use crate::transport::{
    Bounded, Delivery, SubscribeOptions, Subscription, Transport, TransportError,
};

/// How long a subscription waits between attempts to subscribe again: doubling from `first` up to
/// `max`, on tokio's clock (so the paused clock runs it at once).
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    pub(super) first: Duration,
    pub(super) max: Duration,
}

/// One consumer: the inner subscription, tagged with the connection it was made on.
pub(super) struct DisconnectingSubscription {
    pub(super) transport: Arc<dyn Transport>,
    pub(super) link: Arc<Link>,
    pub(super) wake: watch::Receiver<()>,
    pub(super) topic: String,
    pub(super) group: String,
    pub(super) options: SubscribeOptions,
    pub(super) backoff: Backoff,
    pub(super) inner: Option<(u64, Box<dyn Subscription>)>,
}

impl DisconnectingSubscription {
    /// Subscribes again, backing off between failures (an outage, the inner transport failing);
    /// `None` once the transport is closed.
    async fn reconnect(&mut self) -> Option<(u64, Box<dyn Subscription>)> {
        let mut delay = self.backoff.first;
        loop {
            self.wake.borrow_and_update();
            let generation = self.link.status().generation;
            // An outage refuses the attempt (and counts it); a close ends the loop below.
            let attempt = match self.link.check_up() {
                Ok(()) => {
                    self.transport
                        .subscribe(&self.topic, &self.group, self.options)
                        .await
                }
                Err(e) => Err(e),
            };
            match attempt {
                Ok(sub) => {
                    bump(&self.link.counters.reconnects);
                    return Some((generation, sub));
                }
                Err(TransportError::Closed) => return None,
                Err(e) => {
                    tracing::debug!(topic = %self.topic, group = %self.group, error = %Bounded(&e), ?delay, "subscribing again failed");
                }
            }
            // A close (or another cut) ends the wait early.
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = self.wake.changed() => {}
            }
            delay = (delay * 2).min(self.backoff.max);
        }
    }
}

#[async_trait]
impl Subscription for DisconnectingSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        loop {
            // Seen before the status is read: a cut after this line wakes `changed` below.
            self.wake.borrow_and_update();
            let status = self.link.status();
            if status.closed {
                self.inner = None;
                return None;
            }
            let Some((generation, inner)) = &mut self.inner else {
                self.inner = Some(self.reconnect().await?);
                continue;
            };
            let generation = *generation;
            if generation != status.generation {
                // The connection was cut: drop what was made on it and say so, once.
                self.inner = None;
                return Some(Err(TransportError::connection(
                    "connection lost (simulated by DisconnectingTransport)",
                )));
            }
            tokio::select! {
                biased;
                _ = self.wake.changed() => {}
                item = inner.next() => match item {
                    Some(Ok(delivery)) => {
                        if let Some(delivery) = self.link.hand_out(generation, delivery) {
                            return Some(Ok(delivery));
                        }
                        // It arrived as the connection was cut: abandoned, delivered again later.
                    }
                    other => return other,
                },
            }
        }
    }
}
