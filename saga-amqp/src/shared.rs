//! What a transport shares with its subscriptions and deliveries: the connection, the publisher, the
//! names, what was declared, and the two ways a message leaves its queue other than an ack (to the
//! dead letters, to a delay level).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use lapin::BasicProperties;
use parking_lot::Mutex;
use saga::transport::{bounded, TransportError, DEAD_LETTER_REASON};
use tokio::sync::watch;

use crate::config::AmqpConfig;
use crate::connection::Connector;
use crate::delay;
use crate::error::within;
use crate::names::{GroupNames, Names};
use crate::publisher::{Publisher, Route};
use crate::topology;
use crate::wire::{self, text, H_DELAY, H_DELIVERIES, H_NOT_BEFORE};

pub(crate) struct Shared {
    pub(crate) config: AmqpConfig,
    pub(crate) names: Names,
    pub(crate) connector: std::sync::Arc<Connector>,
    pub(crate) publisher: Publisher,
    /// `true` once the transport is closed.
    pub(crate) closed: watch::Sender<bool>,
    /// Every queue this transport declared (for [`delete_declared`](crate::AmqpTransport::delete_declared)).
    pub(crate) declared: Mutex<BTreeSet<String>>,
    /// Group queues deleted by `delete_group`: their subscriptions stop re-declaring them.
    pub(crate) deleted: Mutex<HashSet<String>>,
    /// The delay levels declared, with the connection generation they were declared on.
    delays: Mutex<HashMap<u32, u64>>,
}

impl Shared {
    pub(crate) fn new(
        config: AmqpConfig,
        names: Names,
        connector: std::sync::Arc<Connector>,
    ) -> Self {
        Self {
            publisher: Publisher::new(std::sync::Arc::clone(&connector), config.confirm_window),
            config,
            names,
            connector,
            closed: watch::Sender::new(false),
            declared: Mutex::new(BTreeSet::new()),
            deleted: Mutex::new(HashSet::new()),
            delays: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Declares delay level `level` unless it was declared on the current connection.
    async fn ensure_delay(&self, level: u32) -> Result<(), TransportError> {
        let live = self.connector.current().await?;
        if self.delays.lock().get(&level) == Some(&live.generation) {
            return Ok(());
        }
        let channel = live.channel().await?;
        let declare = topology::declare_delay(&channel, &self.config, &self.names, level);
        within("delay queue.declare", declare).await?;
        let _ = within("channel.close", channel.close(200, "OK".into())).await;
        self.declared.lock().insert(self.names.delay_queue(level));
        self.delays.lock().insert(level, live.generation);
        Ok(())
    }

    /// Publishes a copy of a message to a delay level, from where it returns to `group`'s queue after
    /// `delay` (rounded up to the level), carrying `deliveries` so its count goes on where it was.
    pub(crate) async fn delay(
        &self,
        group: &GroupNames,
        payload: &[u8],
        mut headers: lapin::types::FieldTable,
        deliveries: u32,
        delay: Duration,
    ) -> Result<(), TransportError> {
        let level = delay::level(delay);
        self.ensure_delay(level).await?;
        let mut envelope = vec![
            (H_DELIVERIES, text(deliveries.to_string())),
            (H_DELAY, text(level.to_string())),
        ];
        if let Some(due) = delay::due_after_top_level(delay) {
            envelope.push((H_NOT_BEFORE, text(due.to_string())));
        }
        for (name, value) in envelope {
            headers.insert(name.into(), value);
        }
        let route = Route {
            exchange: &self.names.delays,
            routing_key: &group.queue,
            mandatory: true,
        };
        let result = self
            .publisher
            .publish(route, payload, wire::persistent(headers))
            .await;
        if result.is_err() {
            // The level may have been deleted under us: declare it again next time.
            self.delays.lock().remove(&level);
        }
        result
    }

    /// Publishes a dead letter of `group`: `headers` plus the reason, to `<queue>.dead-letter`
    /// (through the dead-letter exchange, mandatory) and to the dead-letter topic (fan-out to its
    /// groups, if any), both confirmed.
    pub(crate) async fn dead_letter(
        &self,
        group: &GroupNames,
        payload: &[u8],
        mut headers: lapin::types::FieldTable,
        reason: &str,
    ) -> Result<(), TransportError> {
        let reason = bounded(reason);
        headers.insert(DEAD_LETTER_REASON.into(), text(reason.as_str()));
        let properties: BasicProperties = wire::persistent(headers);
        let keep = self.publisher.publish(
            Route {
                exchange: &self.names.dead_letters,
                routing_key: &group.queue,
                mandatory: true,
            },
            payload,
            properties.clone(),
        );
        let announce = self.publisher.publish(
            Route {
                exchange: &self.names.topics,
                routing_key: &group.dead_letter_topic,
                mandatory: false,
            },
            payload,
            properties,
        );
        let (kept, announced) = futures::join!(keep, announce);
        kept.and(announced)?;
        tracing::warn!(
            queue = %group.queue, reason = reason.as_str(), "message dead-lettered"
        );
        Ok(())
    }
}

/// The delivery-count header value a republished copy carries.
pub(crate) fn deliveries_value(properties: &BasicProperties) -> u32 {
    wire::envelope_value(properties, H_DELIVERIES)
        .and_then(wire::integer)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The broker's count of earlier deliveries (quorum queues' `x-delivery-count`), 0 if absent.
pub(crate) fn broker_count(properties: &BasicProperties) -> u32 {
    wire::envelope_value(properties, wire::X_DELIVERY_COUNT)
        .and_then(wire::integer)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// When a delayed message is due, if it carries a due time.
pub(crate) fn due(properties: &BasicProperties) -> Option<u64> {
    wire::envelope_value(properties, H_NOT_BEFORE).and_then(wire::integer)
}
