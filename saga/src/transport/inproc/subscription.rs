//! A consumer of one in-process group, and the settlement of its deliveries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::shared::{Entry, Group, Shared};
use crate::transport::{Acker, Delivery, DeliveryCount, Message, Subscription, TransportError};

pub(super) struct InProcSubscription {
    pub(super) group: Arc<Group>,
    pub(super) shared: Arc<Shared>,
}

#[async_trait]
impl Subscription for InProcSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        let group = &self.group;
        loop {
            let notified = group.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.closed.load(Ordering::SeqCst) {
                return None;
            }
            let popped = {
                let mut queue = group.queue.lock();
                let entry = queue.pop_front();
                (entry, !queue.is_empty())
            };
            if let (Some(mut entry), more) = popped {
                if more {
                    // Hand the wake-up on, so a competing consumer picks up the rest.
                    group.notify.notify_one();
                }
                entry.deliveries = entry.deliveries.saturating_add(1);
                if let Some(max) = self.shared.config.max_deliveries {
                    if entry.deliveries > max {
                        let reason = format!("delivery limit of {max} exceeded");
                        self.shared.dead_letter(
                            group,
                            entry.message,
                            &reason,
                            entry.deliveries - 1,
                        );
                        group.release(entry.holds_permit);
                        continue;
                    }
                }
                let acker = InProcAcker {
                    group: Arc::clone(group),
                    shared: Arc::clone(&self.shared),
                    deliveries: entry.deliveries,
                    holds_permit: entry.holds_permit,
                };
                return Some(Ok(Delivery::new(
                    entry.message,
                    DeliveryCount::Exact(entry.deliveries),
                    Box::new(acker),
                )));
            }
            notified.await;
        }
    }
}

struct InProcAcker {
    group: Arc<Group>,
    shared: Arc<Shared>,
    deliveries: u32,
    holds_permit: bool,
}

impl InProcAcker {
    fn requeue_now(self, message: Message) {
        self.group.push(Entry {
            message,
            deliveries: self.deliveries,
            holds_permit: self.holds_permit,
        });
    }
}

#[async_trait]
impl Acker for InProcAcker {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.group.release(self.holds_permit);
        Ok(())
    }

    async fn requeue(
        self: Box<Self>,
        message: Message,
        delay: Duration,
    ) -> Result<(), TransportError> {
        if delay.is_zero() {
            self.requeue_now(message);
        } else {
            // The message waits on a timer of its own, not in the consumer: the consumer is free at
            // once. It keeps its place in the group's capacity (it is still queued, just not yet due).
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                self.requeue_now(message);
            });
        }
        Ok(())
    }

    async fn dead_letter(
        self: Box<Self>,
        message: Message,
        reason: &str,
    ) -> Result<(), TransportError> {
        self.shared
            .dead_letter(&self.group, message, reason, self.deliveries);
        self.group.release(self.holds_permit);
        Ok(())
    }

    /// Pushes the message back at once: a queue push under a lock, no runtime needed.
    fn abandon(self: Box<Self>, message: Message) {
        self.requeue_now(message);
    }
}
