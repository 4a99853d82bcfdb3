//! One consumer of a group: its own channel with `basic.qos` prefetch and manual acks, re-opened (and
//! the group re-declared) with backoff whenever the channel or the connection is lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use saga::transport::{bounded, Bounded, Delivery, DeliveryCount, Subscription, TransportError};

use crate::acker::AmqpAcker;
use crate::config::QueueType;
use crate::connection::backoff;
use crate::error::{transport_error, within};
use crate::names::GroupNames;
use crate::shared::{broker_count, deliveries_value, due, Shared};
use crate::topology;
use crate::wire;

/// The channel and consumer of a running subscription.
struct Live {
    channel: Channel,
    consumer: Consumer,
}

pub(crate) struct AmqpSubscription {
    pub(crate) shared: Arc<Shared>,
    pub(crate) group: Arc<GroupNames>,
    pub(crate) expire_after: Option<Duration>,
    live: Option<Live>,
    failures: u32,
}

impl AmqpSubscription {
    /// Declares the group and starts consuming; the subscription is returned only once its queue is
    /// bound, so every message published after `subscribe` returns reaches it.
    pub(crate) async fn start(
        shared: Arc<Shared>,
        group: Arc<GroupNames>,
        expire_after: Option<Duration>,
    ) -> Result<Self, TransportError> {
        let mut sub = Self {
            shared,
            group,
            expire_after,
            live: None,
            failures: 0,
        };
        sub.live = Some(sub.open().await?);
        Ok(sub)
    }

    async fn open(&self) -> Result<Live, TransportError> {
        let shared = &self.shared;
        let live = shared.connector.current().await?;
        let channel = live.channel().await?;
        let qos = BasicQosOptions { global: false };
        within("basic.qos", channel.basic_qos(shared.config.prefetch, qos)).await?;
        let declare = topology::declare_group(
            &channel,
            &shared.config,
            &shared.names,
            &self.group,
            self.expire_after,
        );
        within("queue.declare", declare).await?;
        {
            let mut declared = shared.declared.lock();
            declared.insert(self.group.queue.clone());
            declared.insert(self.group.dead_letter_queue.clone());
        }
        let consume = channel.basic_consume(
            self.group.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        );
        let consumer = within("basic.consume", consume).await?;
        Ok(Live { channel, consumer })
    }

    /// Turns a lapin delivery into a saga delivery, or settles it here: a delayed message that is not
    /// due yet goes round the delay levels again, and one over the delivery limit, over the size limit
    /// or with headers that do not decode is dead-lettered with the reason (on a task of its own, so
    /// `next` stays cancel safe).
    fn receive(&self, channel: &Channel, d: lapin::message::Delivery) -> Option<Delivery> {
        let shared = &self.shared;
        let carried = deliveries_value(&d.properties);
        let (count, at_least) = match shared.config.queue_type {
            QueueType::Quorum => {
                let n = carried
                    .saturating_add(broker_count(&d.properties))
                    .saturating_add(1);
                (DeliveryCount::Exact(n), n)
            }
            _ => {
                let n = carried.saturating_add(1 + u32::from(d.redelivered));
                (DeliveryCount::AtLeast(n), n)
            }
        };
        let acker = AmqpAcker {
            shared: Arc::clone(shared),
            group: Arc::clone(&self.group),
            _channel: channel.clone(),
            acker: d.acker.clone(),
            deliveries: at_least,
        };
        if let Some(wait) = due(&d.properties).and_then(crate::delay::remaining) {
            let headers = wire::without_envelope(&d.properties, &[]);
            tokio::spawn(async move {
                let result = acker
                    .shared
                    .delay(&acker.group, &d.data, headers, carried, wait)
                    .await;
                let _ = match result {
                    Ok(()) => acker.ack_now().await,
                    Err(_) => acker.reject(true).await,
                };
            });
            return None;
        }
        let limit = shared.config.delivery_limit;
        let decoded = if at_least > limit {
            Err((format!("delivery limit of {limit} exceeded"), d.data))
        } else {
            wire::decode(&d.properties, d.data, shared.config.max_message_size)
                .map_err(|(e, data)| (bounded(e), data))
        };
        match decoded {
            Ok(message) => Some(Delivery::new(message, count, Box::new(acker))),
            Err((reason, data)) => {
                tracing::warn!(queue = %self.group.queue, reason = reason.as_str(), "refusing a delivery");
                let headers = wire::without_envelope(&d.properties, &[]);
                tokio::spawn(async move {
                    let published = acker
                        .shared
                        .dead_letter(&acker.group, &data, headers, &reason)
                        .await;
                    let _ = match published {
                        Ok(()) => acker.ack_now().await,
                        Err(_) => acker.reject(false).await,
                    };
                });
                None
            }
        }
    }
}

#[async_trait]
impl Subscription for AmqpSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        let mut closed = self.shared.closed.subscribe();
        loop {
            if *closed.borrow_and_update() {
                return None;
            }
            if self.live.is_none() {
                if self.shared.deleted.lock().contains(&self.group.queue) {
                    // The group was deleted: wait for the end, as a consumer of a removed group would.
                    let _ = closed.wait_for(|c| *c).await;
                    return None;
                }
                if self.failures > 0 {
                    let wait = backoff(&self.shared.config, self.failures);
                    tokio::select! {
                        _ = closed.wait_for(|c| *c) => return None,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                match self.open().await {
                    Ok(live) => {
                        if self.failures > 0 {
                            tracing::info!(queue = %self.group.queue, "subscription resumed");
                        }
                        self.failures = 0;
                        self.live = Some(live);
                    }
                    Err(TransportError::Closed) => return None,
                    Err(e) => {
                        self.failures = self.failures.saturating_add(1);
                        tracing::warn!(queue = %self.group.queue, failures = self.failures, error = %Bounded(&e), "subscription cannot resume yet");
                        return Some(Err(e));
                    }
                }
            }
            let Some(live) = self.live.as_mut() else {
                continue;
            };
            let item = tokio::select! {
                _ = closed.wait_for(|c| *c) => return None,
                item = live.consumer.next() => item,
            };
            match item {
                Some(Ok(d)) => {
                    let channel = live.channel.clone();
                    if let Some(delivery) = self.receive(&channel, d) {
                        return Some(Ok(delivery));
                    }
                }
                Some(Err(e)) => {
                    self.live = None;
                    self.failures = 1;
                    tracing::warn!(queue = %self.group.queue, error = %e, "subscription lost its channel; resuming");
                    return Some(Err(transport_error("consume", e)));
                }
                None => {
                    self.live = None;
                    self.failures = 1;
                    tracing::warn!(queue = %self.group.queue, "consumer cancelled; resuming");
                }
            }
        }
    }
}
