//! What a handler knows about the message it handles.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::EventPublisher;
use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::trace::TraceContext;
use crate::transport::{DeliveryCount, MessageId, TransportError};

/// The context of a command handler: which saga step sent it, and its idempotency key.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub(crate) key: IdempotencyKey,
    pub(crate) attempt: Option<u32>,
    pub(crate) message_id: MessageId,
    pub(crate) deliveries: DeliveryCount,
    pub(crate) command: Arc<str>,
    pub(crate) trace: TraceContext,
    pub(crate) parent_trace: Option<TraceContext>,
}

impl CommandContext {
    /// The saga that sent the command.
    #[must_use]
    pub const fn saga_id(&self) -> SagaId {
        self.key.saga_id
    }

    /// The step index in the saga's definition.
    #[must_use]
    pub const fn step(&self) -> u32 {
        self.key.step
    }

    /// Action or compensation.
    #[must_use]
    pub const fn direction(&self) -> Direction {
        self.key.direction
    }

    /// The orchestrator's attempt number, if it sent one.
    #[must_use]
    pub const fn attempt(&self) -> Option<u32> {
        self.attempt
    }

    /// The key the runtime deduplicated on; use it for effects outside the runtime's store too.
    #[must_use]
    pub const fn idempotency_key(&self) -> IdempotencyKey {
        self.key
    }

    /// The command message's id.
    #[must_use]
    pub const fn message_id(&self) -> MessageId {
        self.message_id
    }

    /// How often this message was delivered, this delivery included.
    #[must_use]
    pub const fn deliveries(&self) -> DeliveryCount {
        self.deliveries
    }

    /// The command's name.
    #[must_use]
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The handler's trace context: the command's trace id (or the saga's, if the command came without
    /// a valid `traceparent`) and the handler span's own span id. The reply and events published while
    /// the handler runs carry it; pass it on from calls of your own.
    #[must_use]
    pub const fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// The trace context the command came with (the sending step attempt's span), if it had a valid
    /// `traceparent`.
    #[must_use]
    pub const fn parent_trace(&self) -> Option<&TraceContext> {
        self.parent_trace.as_ref()
    }
}

/// The context of an event handler; it can publish follow-up events with ids derived from this event's
/// id, so a redelivered event republishes the *same* events and downstream deduplication holds.
#[derive(Debug)]
pub struct EventContext {
    pub(crate) event_id: MessageId,
    pub(crate) saga_id: Option<SagaId>,
    pub(crate) topic: Arc<str>,
    pub(crate) deliveries: DeliveryCount,
    pub(crate) publisher: EventPublisher,
    pub(crate) published: AtomicU32,
    pub(crate) trace: TraceContext,
    pub(crate) parent_trace: Option<TraceContext>,
}

impl EventContext {
    /// The event's id (what the runtime deduplicated on).
    #[must_use]
    pub const fn event_id(&self) -> MessageId {
        self.event_id
    }

    /// The saga the event belongs to, if the publisher set one.
    #[must_use]
    pub const fn saga_id(&self) -> Option<SagaId> {
        self.saga_id
    }

    /// The topic it was published to.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// How often this message was delivered, this delivery included.
    #[must_use]
    pub const fn deliveries(&self) -> DeliveryCount {
        self.deliveries
    }

    /// The handler's trace context: the event's trace id (or, without a valid `traceparent`, the
    /// saga's, or a new trace's) and the handler span's own span id; follow-up events carry it.
    #[must_use]
    pub const fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// The trace context the event came with (its publisher's span), if it had a valid
    /// `traceparent`.
    #[must_use]
    pub const fn parent_trace(&self) -> Option<&TraceContext> {
        self.parent_trace.as_ref()
    }

    /// Publishes a follow-up event of the same saga; its id is derived from this event's id, the topic and
    /// the number of events this handler published before. It continues this handler's
    /// [`trace`](Self::trace).
    ///
    /// # Errors
    /// The event cannot be encoded ([`TransportError::Malformed`]) or published.
    pub async fn publish<E: Serialize + ?Sized>(
        &self,
        topic: &str,
        event: &E,
    ) -> Result<MessageId, TransportError> {
        let seq = self.published.fetch_add(1, Ordering::Relaxed);
        let id = MessageId::derive(self.event_id, topic, seq);
        self.publisher
            .publish_traced(topic, id, self.saga_id, event, self.trace.clone())
            .await?;
        Ok(id)
    }
}
