//! Handling one event: deduplicate on its id, run the handler, settle.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use futures::FutureExt;

use super::runtime::{bump, Runtime};
use super::store::{Claim, StoredReply};
use super::EventContext;
use crate::step::StepError;
use crate::transport::{bounded, Bounded, Delivery, ReplyStatus};

impl Runtime {
    pub(super) async fn event(&self, index: usize, delivery: Delivery) {
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
                let result = AssertUnwindSafe(fut)
                    .catch_unwind()
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
