//! Handling one event: deduplicate on its id, run the handler, settle.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use futures::FutureExt;
use tracing::{field, Instrument};

use super::runtime::{bump, Runtime};
use super::store::{Claim, StoredReply};
use super::EventContext;
use crate::step::StepError;
use crate::trace::{self, TraceContext};
use crate::transport::{bounded, Bounded, Delivery, ReplyStatus};

impl Runtime {
    /// Handles an event in its `saga.participant.event` span, a child of the span the event's
    /// `traceparent` names (or a new span of the saga's trace, or a new trace, without one).
    pub(super) async fn event(&self, index: usize, delivery: Delivery) {
        let h = &delivery.message().headers;
        let parent = h.trace.clone();
        let own = TraceContext::child_or_new(parent.as_ref(), h.saga_id);
        let span = tracing::info_span!(
            "saga.participant.event",
            participant = %self.name,
            topic = self.events.get(index).map(|r| &*r.topic),
            saga_id = h.saga_id.map(field::display),
            event_id = %h.message_id,
            trace_id = %own.trace_id(),
            span_id = %own.span_id(),
            parent_span_id = parent.as_ref().map(|p| field::display(p.span_id())),
        );
        self.handle_event(index, delivery, own, parent)
            .instrument(span)
            .await;
    }

    async fn handle_event(
        &self,
        index: usize,
        delivery: Delivery,
        own: TraceContext,
        parent: Option<TraceContext>,
    ) {
        let Some(route) = self.events.get(index) else {
            return self.dead_letter(delivery, "no event route").await;
        };
        let h = &delivery.message().headers;
        let ctx = EventContext {
            event_id: h.message_id,
            saga_id: h.saga_id,
            topic: Arc::clone(&route.topic),
            deliveries: delivery.deliveries(),
            publisher: self.publisher.clone(),
            published: AtomicU32::new(0),
            trace: own.clone(),
            parent_trace: parent,
        };
        let fut = match route.handler.call(ctx, &delivery.message().payload) {
            Ok(fut) => fut,
            Err(e) => {
                let reason = bounded(format_args!("malformed event on {:?}: {e}", route.topic));
                return self.dead_letter(delivery, &reason).await;
            }
        };
        let key = h.message_id.to_string();
        match self
            .store
            .claim(&route.scope, &key, self.config.claim_lease)
            .await
        {
            Err(e) => {
                tracing::warn!(participant = %self.name, error = %Bounded(&e), "store claim failed");
                self.requeue(delivery, None).await;
            }
            Ok(Claim::InProgress | Claim::Completed(_)) => {
                bump(&self.stats.duplicates);
                tracing::debug!(participant = %self.name, event_id = %key, "duplicate event skipped");
                self.ack(delivery).await;
            }
            Ok(Claim::Acquired) => {
                bump(&self.stats.executed);
                let result = trace::scope(own, AssertUnwindSafe(fut).catch_unwind())
                    .await
                    .unwrap_or_else(|_| Err(StepError::transient("event handler panicked")));
                match result {
                    Ok(()) => {
                        let done = StoredReply::new(ReplyStatus::Ok, bytes::Bytes::new());
                        if let Err(e) = self.store.complete(&route.scope, &key, done).await {
                            tracing::error!(participant = %self.name, error = %Bounded(&e), "cannot record handled event");
                        }
                        self.ack(delivery).await;
                    }
                    Err(e) => {
                        if let Err(se) = self.store.release(&route.scope, &key).await {
                            tracing::warn!(participant = %self.name, error = %Bounded(&se), "store release failed");
                        }
                        if e.is_transient() {
                            self.requeue(delivery, e.retry_after()).await;
                        } else {
                            let reason =
                                bounded(format_args!("event handler refused: {}", e.message()));
                            self.dead_letter(delivery, &reason).await;
                        }
                    }
                }
            }
        }
    }
}
