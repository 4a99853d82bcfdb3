//! Handling one command: deduplicate on its idempotency key, run the handler, reply, settle.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tracing::{field, Instrument};

use super::runtime::{bump, Runtime};
use super::store::{Claim, StoredReply};
use super::wire::{encode_failure, reply_to};
use super::CommandContext;
use crate::step::StepError;
use crate::trace::{self, TraceContext};
use crate::transport::{bounded, Bounded, Delivery, MessageKind, ReplyStatus};

impl Runtime {
    /// Handles a command in its `saga.participant.command` span, a child of the span the command's
    /// `traceparent` names (or a new span of the saga's trace without one).
    pub(super) async fn command(&self, delivery: Delivery) {
        let h = &delivery.message().headers;
        let parent = h.trace.clone();
        let own = TraceContext::child_or_new(parent.as_ref(), h.saga_id);
        let span = tracing::info_span!(
            "saga.participant.command",
            participant = %self.name,
            command = h.name.as_deref().map(|n| field::display(Bounded(n))),
            saga_id = h.saga_id.map(field::display),
            message_id = %h.message_id,
            trace_id = %own.trace_id(),
            span_id = %own.span_id(),
            parent_span_id = parent.as_ref().map(|p| field::display(p.span_id())),
        );
        self.handle_command(delivery, own, parent)
            .instrument(span)
            .await;
    }

    async fn handle_command(
        &self,
        delivery: Delivery,
        own: TraceContext,
        parent: Option<TraceContext>,
    ) {
        let h = &delivery.message().headers;
        if h.kind != MessageKind::Command {
            let reason = bounded(format_args!(
                "expected a command, got a {}",
                h.kind.as_str()
            ));
            return self.dead_letter(delivery, &reason).await;
        }
        let (Some(key), Some(name), Some(reply_topic)) =
            (h.idempotency_key(), h.name.clone(), h.reply_to.clone())
        else {
            let reason = "command without saga id, step, direction, name or reply-to";
            return self.dead_letter(delivery, reason).await;
        };
        let Some(handler) = self.commands.get(&name) else {
            let reason = bounded(format_args!("no handler for command {name:?}"));
            return self.dead_letter(delivery, &reason).await;
        };
        let ctx = CommandContext {
            key,
            attempt: h.attempt,
            message_id: h.message_id,
            deliveries: delivery.deliveries(),
            command: Arc::clone(&name),
            trace: own.clone(),
            parent_trace: parent,
        };
        let fut = match handler.call(ctx, &delivery.message().payload) {
            Ok(fut) => fut,
            Err(e) => {
                let reason = bounded(format_args!("malformed command {name:?}: {e}"));
                return self.dead_letter(delivery, &reason).await;
            }
        };
        let key_text = key.to_string();
        let reply = match self
            .store
            .claim(&self.name, &key_text, self.config.claim_lease)
            .await
        {
            Err(e) => {
                tracing::warn!(participant = %self.name, key = %key_text, error = %Bounded(&e), "store claim failed");
                return self.requeue(delivery, None).await;
            }
            Ok(Claim::InProgress) => {
                bump(&self.stats.duplicates);
                tracing::debug!(participant = %self.name, key = %key_text, "duplicate command skipped: in progress");
                return self.ack(delivery).await;
            }
            Ok(Claim::Completed(stored)) => {
                bump(&self.stats.duplicates);
                tracing::debug!(participant = %self.name, key = %key_text, "duplicate command: re-sending stored reply");
                stored
            }
            Ok(Claim::Acquired) => {
                bump(&self.stats.executed);
                // Events published while the handler runs continue its span.
                let result = trace::scope(own.clone(), AssertUnwindSafe(fut).catch_unwind())
                    .await
                    .unwrap_or_else(|_| Err(StepError::transient("participant handler panicked")));
                let stored = match result {
                    Ok(bytes) => StoredReply::new(ReplyStatus::Ok, bytes),
                    Err(e) if !e.is_transient() => {
                        StoredReply::new(ReplyStatus::Rejected, encode_failure(&e))
                    }
                    Err(e) => {
                        if let Err(se) = self.store.release(&self.name, &key_text).await {
                            tracing::warn!(participant = %self.name, error = %Bounded(&se), "store release failed");
                        }
                        StoredReply::new(ReplyStatus::Failed, encode_failure(&e))
                    }
                };
                if stored.status != ReplyStatus::Failed {
                    if let Err(e) = self
                        .store
                        .complete(&self.name, &key_text, stored.clone())
                        .await
                    {
                        tracing::error!(
                            participant = %self.name, key = %key_text, error = %Bounded(&e),
                            "cannot record executed command; a redelivery may execute it again"
                        );
                    }
                }
                stored
            }
        };
        let message = reply_to(h, reply.status, reply.payload, &own);
        match self.transport.publish(&reply_topic, message).await {
            Ok(()) => self.ack(delivery).await,
            Err(e) if e.is_transient() => {
                tracing::warn!(participant = %self.name, error = %Bounded(&e), "reply publish failed; requeueing");
                self.requeue(delivery, None).await;
            }
            Err(e) => {
                let reason = bounded(format_args!("reply cannot be published: {e}"));
                self.dead_letter(delivery, &reason).await;
            }
        }
    }
}
