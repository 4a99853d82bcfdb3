//! The routing loop: each reply read from the reply channel is checked, matched to the request
//! waiting for it (or kept for a request to come), and settled while the next ones are read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};

use super::{Shared, StepOf};
use crate::transport::{bounded, Bounded, Delivery, MessageKind, SubscriptionStream};

/// The most replies a router settles (acks or dead-letters) at once; at this many it reads no more
/// until one is settled.
const MAX_SETTLING: usize = 256;

/// What became of a reply.
#[derive(PartialEq, Eq)]
enum Routed {
    Accepted,
    Kept,
    Dropped,
}

impl Shared {
    /// Routes replies as they arrive. Each reply is matched (and its request woken) at once; its
    /// settlement (the ack) runs while the next replies are read and matched, up to
    /// [`MAX_SETTLING`] at a time, rather than each ack's round trip holding up every reply behind it.
    pub(super) async fn run(self: Arc<Self>, mut replies: SubscriptionStream) {
        let mut settling = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                Some(()) = settling.next(), if !settling.is_empty() => {}
                item = replies.next(), if settling.len() < MAX_SETTLING => match item {
                    None => break,
                    Some(Ok(delivery)) => settling.push(Arc::clone(&self).route(delivery)),
                    Some(Err(e)) => {
                        tracing::warn!(topic = %self.reply_topic, error = %Bounded(&e), "reply subscription error");
                    }
                },
            }
        }
        while settling.next().await.is_some() {}
    }

    async fn route(self: Arc<Self>, delivery: Delivery) {
        let message = delivery.message();
        let size = message.size();
        let limit = self.config.max_message_size;
        if size > limit {
            let reason = bounded(format_args!(
                "reply of {size} bytes exceeds the limit of {limit} bytes"
            ));
            return self.dead_letter(delivery, &reason).await;
        }
        let h = &message.headers;
        if let Err(e) = h.check_consistency() {
            return self.dead_letter(delivery, &bounded(e)).await;
        }
        let correlation = match (h.kind, h.correlation_id) {
            (MessageKind::Reply, Some(c)) => c,
            _ => {
                return self
                    .dead_letter(delivery, "not a reply, or no correlation id")
                    .await
            }
        };
        let accepted = {
            let mut early = self.early.lock();
            let mut pending = self.pending.lock();
            match pending.remove(&correlation) {
                Some(p) if p.step == StepOf::of(h) => {
                    if p.tx.send(message.clone()).is_ok() {
                        Routed::Accepted
                    } else {
                        Routed::Dropped // the request gave up just now
                    }
                }
                Some(p) => {
                    // Right correlation, wrong saga step: not ours to accept; keep waiting.
                    pending.insert(correlation, p);
                    Routed::Dropped
                }
                None => {
                    // No request yet: after a restart the recovered saga re-issues it with this id.
                    drop(pending);
                    let evicted = early.keep(correlation, message.clone(), self.config.early_ttl);
                    self.dropped.fetch_add(evicted, Ordering::Relaxed);
                    self.early_count.fetch_add(1, Ordering::Relaxed);
                    Routed::Kept
                }
            }
        };
        if accepted == Routed::Accepted {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        } else if accepted == Routed::Kept {
            tracing::debug!(topic = %self.reply_topic, correlation = %correlation, "reply kept for a request to come");
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                topic = %self.reply_topic, correlation = %correlation,
                "dropping unknown, duplicate, late or mismatched reply"
            );
        }
        if let Err(e) = delivery.ack().await {
            tracing::warn!(topic = %self.reply_topic, error = %Bounded(&e), "reply ack failed");
        }
    }

    /// Dead-letters `delivery`; the reason is [`bounded`] here, however it was made.
    async fn dead_letter(&self, delivery: Delivery, reason: &str) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        let reason = bounded(reason);
        tracing::warn!(topic = %self.reply_topic, reason = reason.as_str(), "dead-lettering reply");
        if let Err(e) = delivery.dead_letter(&reason).await {
            tracing::warn!(topic = %self.reply_topic, error = %Bounded(&e), "dead-lettering failed");
        }
    }
}
