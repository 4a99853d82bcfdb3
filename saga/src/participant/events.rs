//! Choreography: publishing typed events.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use crate::id::SagaId;
use crate::trace::{self, TraceContext};
use crate::transport::{Headers, Message, MessageId, MessageKind, Transport, TransportError};

/// Publishes typed events (encoded with serde_json) to topics; every group subscribed to a topic (see
/// [`ParticipantBuilder::event`](super::ParticipantBuilder::event)) receives each event once.
///
/// # Tracing
///
/// Every event carries a `traceparent`: the context given with [`with_trace`](Self::with_trace); else
/// the [`current`](crate::trace::current) one, so an event published from a saga step or a
/// participant handler continues its trace with the step's or handler's span as parent; else a new
/// span of the saga's trace ([`TraceContext::for_saga`]) for an event of a saga, or a new trace.
#[derive(Clone)]
pub struct EventPublisher {
    transport: Arc<dyn Transport>,
    trace: Option<TraceContext>,
}

impl std::fmt::Debug for EventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPublisher")
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}

impl EventPublisher {
    /// A publisher over `transport`.
    #[must_use]
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            trace: None,
        }
    }

    /// The same publisher, continuing the caller's trace: its events carry `trace` (the caller's
    /// span is their parent).
    #[must_use]
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Publishes `event` to `topic` with a fresh id, as part of `saga_id` if given.
    ///
    /// # Errors
    /// [`TransportError::Malformed`] if the event does not serialize, or what the transport returns.
    pub async fn publish<E: Serialize + ?Sized>(
        &self,
        topic: &str,
        saga_id: Option<SagaId>,
        event: &E,
    ) -> Result<MessageId, TransportError> {
        let id = MessageId::new();
        self.publish_with_id(topic, id, saga_id, event).await?;
        Ok(id)
    }

    /// Publishes `event` with a caller-chosen id: publishing the same id twice is deduplicated by
    /// subscribers (use it for retries of your own).
    ///
    /// # Errors
    /// [`TransportError::Malformed`] if the event does not serialize, or what the transport returns.
    pub async fn publish_with_id<E: Serialize + ?Sized>(
        &self,
        topic: &str,
        id: MessageId,
        saga_id: Option<SagaId>,
        event: &E,
    ) -> Result<(), TransportError> {
        let trace = self
            .trace
            .clone()
            .or_else(trace::current)
            .unwrap_or_else(|| TraceContext::child_or_new(None, saga_id));
        self.publish_traced(topic, id, saga_id, event, trace).await
    }

    /// Publishes `event` carrying exactly `trace`.
    pub(crate) async fn publish_traced<E: Serialize + ?Sized>(
        &self,
        topic: &str,
        id: MessageId,
        saga_id: Option<SagaId>,
        event: &E,
        trace: TraceContext,
    ) -> Result<(), TransportError> {
        let payload = serde_json::to_vec(event)
            .map_err(|e| TransportError::malformed(format!("cannot encode event: {e}")))?;
        let mut headers = Headers::new(MessageKind::Event);
        headers.message_id = id;
        headers.saga_id = saga_id;
        headers.trace = Some(trace);
        self.transport
            .publish(topic, Message::with_headers(headers, Bytes::from(payload)))
            .await
    }
}
