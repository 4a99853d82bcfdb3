//! Settling one AMQP delivery: ack, reject with requeue, a delayed requeue through a delay level, a
//! dead letter with its reason, and abandoning it from `Drop`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use lapin::Channel;
use saga::transport::{Acker, Bounded, Message, TransportError};

use crate::error::within;
use crate::names::GroupNames;
use crate::shared::Shared;
use crate::wire;

/// The settlement of one delivery. It keeps its channel open until it is settled (a subscription
/// dropped with deliveries in flight does not invalidate their acks).
pub(crate) struct AmqpAcker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) group: Arc<GroupNames>,
    pub(crate) _channel: Channel,
    pub(crate) acker: lapin::Acker,
    /// This delivery's count (as reported in its `DeliveryCount`).
    pub(crate) deliveries: u32,
}

/// The error of an ack or reject lapin refused because the delivery's channel is gone.
fn stale(op: &str) -> TransportError {
    TransportError::connection(format!(
        "{op}: the delivery's channel is closed (the broker redelivers the message)"
    ))
}

/// Settles through lapin (within the operation timeout): `Ok(false)` (the channel died, the tag is
/// stale) is an error, never success.
pub(crate) async fn settle(
    op: &'static str,
    fut: impl std::future::Future<Output = lapin::Result<bool>>,
) -> Result<(), TransportError> {
    match within(op, fut).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(stale(op)),
        Err(e) => Err(e),
    }
}

impl AmqpAcker {
    pub(crate) async fn ack_now(&self) -> Result<(), TransportError> {
        settle("basic.ack", self.acker.ack(BasicAckOptions::default())).await
    }

    pub(crate) async fn reject(&self, requeue: bool) -> Result<(), TransportError> {
        settle(
            "basic.reject",
            self.acker.reject(BasicRejectOptions { requeue }),
        )
        .await
    }
}

#[async_trait]
impl Acker for AmqpAcker {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.ack_now().await
    }

    /// No delay: `basic.reject` with requeue (each failed delivery on its own, so a quorum queue
    /// counts it). With a delay: a copy goes to the delay level (confirmed), then the delivery is
    /// acked, so its prefetch credit is free at once; if the copy cannot be published, the delivery
    /// is rejected with requeue instead (delivered again early rather than lost) and the error
    /// returned.
    async fn requeue(
        self: Box<Self>,
        message: Message,
        delay: Duration,
    ) -> Result<(), TransportError> {
        if delay.is_zero() {
            return self.reject(true).await;
        }
        let copy = wire::properties(&message, &[]).map(|p| p.headers().clone().unwrap_or_default());
        let delayed = match copy {
            Ok(headers) => {
                self.shared
                    .delay(
                        &self.group,
                        &message.payload,
                        headers,
                        self.deliveries,
                        delay,
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        match delayed {
            Ok(()) => self.ack_now().await,
            Err(e) => {
                tracing::warn!(queue = %self.group.queue, error = %Bounded(&e), "delayed requeue failed; requeueing at once");
                let _ = self.reject(true).await;
                Err(e)
            }
        }
    }

    /// A copy with the reason goes to `<queue>.dead-letter` and the dead-letter topic (confirmed),
    /// then the delivery is acked. If that fails, the delivery is rejected without requeue, so the
    /// broker moves it to `<queue>.dead-letter` by itself (with its `x-death` record but without the
    /// reason header): never delivered again, never lost.
    async fn dead_letter(
        self: Box<Self>,
        message: Message,
        reason: &str,
    ) -> Result<(), TransportError> {
        let copy = wire::properties(&message, &[]).map(|p| p.headers().clone().unwrap_or_default());
        let published = match copy {
            Ok(headers) => {
                self.shared
                    .dead_letter(&self.group, &message.payload, headers, reason)
                    .await
            }
            Err(e) => Err(e),
        };
        match published {
            Ok(()) => self.ack_now().await,
            Err(e) => {
                tracing::warn!(queue = %self.group.queue, error = %Bounded(&e), "dead-letter publish failed; rejecting to the dead-letter exchange");
                self.reject(false).await.and(Err(e))
            }
        }
    }

    /// Sends `basic.reject` with requeue without waiting for anything: lapin queues the frame at the
    /// first poll, so one poll (`now_or_never`) is enough, on any thread, with or without a runtime.
    /// If the channel is already gone, the broker has requeued the message anyway.
    fn abandon(self: Box<Self>, _message: Message) {
        let _ = self
            .acker
            .reject(BasicRejectOptions { requeue: true })
            .now_or_never();
    }
}
