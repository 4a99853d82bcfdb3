//! The participant runtime: consume commands and events, deduplicate, run handlers, reply, settle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;

use super::builder::EventRoute;
use super::handler::ErasedCommand;
use super::redeliveries::LocalCounts;
use super::store::IdempotencyStore;
use super::{EventPublisher, ParticipantBuilder, ParticipantConfig};
use crate::transport::{bounded, Bounded, Delivery, DeliveryCount, Transport, TransportError};

/// A running participant: a service that handles saga commands and choreography events.
///
/// Dropping the handle stops the participant like [`shutdown`](Self::shutdown) does (messages in flight
/// finish on the task), without waiting for it.
///
/// ```
/// # async fn demo() -> Result<(), saga::transport::TransportError> {
/// use std::sync::Arc;
/// use saga::participant::Participant;
/// use saga::transport::InProcTransport;
/// use saga::StepError;
///
/// let transport = Arc::new(InProcTransport::new());
/// let inventory = Participant::builder("inventory", transport)
///     .command("reserve", |_ctx, qty: u32| async move {
///         if qty > 5 { Err(StepError::permanent("out of stock")) } else { Ok(qty) }
///     })
///     .spawn()
///     .await?;
/// inventory.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Participant {
    pub(super) runtime: Arc<Runtime>,
    pub(super) stop: watch::Sender<bool>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

/// Counters of a participant, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ParticipantStats {
    /// Commands and events whose handler ran (whatever it returned).
    pub executed: u64,
    /// Deliveries answered from the store (or skipped while in progress) instead of executed.
    pub duplicates: u64,
    /// Deliveries dead-lettered (oversized, malformed, unknown, refused, redelivered too often).
    pub dead_lettered: u64,
    /// Deliveries given back for redelivery (transient failures).
    pub requeued: u64,
}

impl Participant {
    /// Starts assembling a participant named `name` (its group name and default command topic).
    pub fn builder(name: impl Into<Arc<str>>, transport: Arc<dyn Transport>) -> ParticipantBuilder {
        ParticipantBuilder::new(name.into(), transport)
    }

    /// The participant's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.runtime.name
    }

    /// A snapshot of its counters.
    #[must_use]
    pub fn stats(&self) -> ParticipantStats {
        let s = &self.runtime.stats;
        ParticipantStats {
            executed: s.executed.load(Ordering::Relaxed),
            duplicates: s.duplicates.load(Ordering::Relaxed),
            dead_lettered: s.dead_lettered.load(Ordering::Relaxed),
            requeued: s.requeued.load(Ordering::Relaxed),
        }
    }

    /// Stops taking messages, lets the ones in flight finish, and waits for the task to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(participant = %self.runtime.name, error = %e, "participant task failed");
        }
    }

    /// Stops at once: deliveries in flight are dropped unsettled, so the transport redelivers them (what
    /// a crash does).
    pub fn abort(self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy)]
pub(super) enum Source {
    Command,
    Event(usize),
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) executed: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) dead_lettered: AtomicU64,
    pub(super) requeued: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(super) struct Runtime {
    pub(super) name: Arc<str>,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) publisher: EventPublisher,
    pub(super) store: Arc<dyn IdempotencyStore>,
    pub(super) config: ParticipantConfig,
    pub(super) commands: HashMap<Arc<str>, Arc<dyn ErasedCommand>>,
    pub(super) events: Vec<EventRoute>,
    pub(super) stats: Stats,
    /// Our own delivery counts where the transport's are imprecise (`None` when they are exact).
    pub(super) local_counts: Option<LocalCounts>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

type Incoming = (Source, Result<Delivery, TransportError>);

impl Runtime {
    pub(super) async fn run(
        self: Arc<Self>,
        mut incoming: futures::stream::SelectAll<futures::stream::BoxStream<'static, Incoming>>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut inflight = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                Some(()) = inflight.next(), if !inflight.is_empty() => {}
                item = incoming.next(), if inflight.len() < self.config.concurrency => match item {
                    None => break,
                    Some((source, Ok(delivery))) => {
                        inflight.push(Arc::clone(&self).process(source, delivery));
                    }
                    Some((_, Err(e))) => {
                        tracing::warn!(participant = %self.name, error = %Bounded(&e), "subscription error");
                    }
                },
            }
        }
        while inflight.next().await.is_some() {}
    }

    pub(super) async fn process(self: Arc<Self>, source: Source, delivery: Delivery) {
        let size = delivery.message().size();
        if size > self.config.max_message_size {
            let reason = bounded(format_args!(
                "message of {size} bytes exceeds the limit of {} bytes",
                self.config.max_message_size
            ));
            return self.dead_letter(delivery, &reason).await;
        }
        let deliveries = self.deliveries(&delivery);
        if deliveries.exceeds(self.config.max_deliveries) {
            let reason = bounded(format_args!("delivered {deliveries} times"));
            return self.dead_letter(delivery, &reason).await;
        }
        if let Err(e) = delivery.message().headers.check_consistency() {
            return self.dead_letter(delivery, &bounded(e)).await;
        }
        match source {
            Source::Command => self.command(delivery).await,
            Source::Event(i) => self.event(i, delivery).await,
        }
    }

    /// The delivery count: the transport's, or our own where the transport's is imprecise.
    pub(super) fn deliveries(&self, delivery: &Delivery) -> DeliveryCount {
        match &self.local_counts {
            Some(counts) => {
                counts.observe(delivery.message().headers.message_id, delivery.deliveries())
            }
            None => delivery.deliveries(),
        }
    }

    fn settled(&self, delivery: &Delivery) {
        if let Some(counts) = &self.local_counts {
            counts.settled(delivery.message().headers.message_id);
        }
    }

    /// Dead-letters `delivery`; the reason is [`bounded`] here, however it was made.
    pub(super) async fn dead_letter(&self, delivery: Delivery, reason: &str) {
        bump(&self.stats.dead_lettered);
        self.settled(&delivery);
        let reason = bounded(reason);
        tracing::warn!(
            participant = %self.name, message_id = %delivery.message().headers.message_id,
            reason = reason.as_str(), "dead-lettering message"
        );
        if let Err(e) = delivery.dead_letter(&reason).await {
            tracing::warn!(participant = %self.name, error = %Bounded(&e), "dead-lettering failed");
        }
    }

    /// Gives `delivery` back to be delivered again after `delay` (default: the configured retry
    /// delay). The transport keeps the delay: this returns at once, so the message holds neither this
    /// participant's concurrency slot nor a broker prefetch credit while it waits.
    pub(super) async fn requeue(&self, delivery: Delivery, delay: Option<std::time::Duration>) {
        bump(&self.stats.requeued);
        let delay = delay.unwrap_or(self.config.retry_delay);
        if let Err(e) = delivery.requeue(delay).await {
            tracing::warn!(participant = %self.name, error = %Bounded(&e), "requeue failed");
        }
    }

    pub(super) async fn ack(&self, delivery: Delivery) {
        self.settled(&delivery);
        if let Err(e) = delivery.ack().await {
            tracing::warn!(participant = %self.name, error = %Bounded(&e), "ack failed; expect a redelivery");
        }
    }
}
