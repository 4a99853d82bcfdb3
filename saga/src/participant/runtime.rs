//! The participant runtime: consume commands and events, deduplicate, run handlers, reply, settle.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use super::handler::{CommandFn, ErasedCommand, ErasedEvent, EventFn};
use super::store::{Claim, IdempotencyStore, InMemoryIdempotencyStore, StoredReply};
use super::wire::{encode_failure, reply_to};
use super::{CommandContext, EventContext, EventPublisher, ParticipantConfig};
use crate::step::StepError;
use crate::transport::{
    into_stream, Delivery, MessageKind, ReplyStatus, Transport, TransportError,
};

/// A participant being assembled; see [`Participant::builder`].
#[must_use]
pub struct ParticipantBuilder {
    name: Arc<str>,
    transport: Arc<dyn Transport>,
    store: Arc<dyn IdempotencyStore>,
    config: ParticipantConfig,
    commands: HashMap<Arc<str>, Arc<dyn ErasedCommand>>,
    events: Vec<EventRoute>,
}

struct EventRoute {
    topic: Arc<str>,
    scope: Arc<str>,
    handler: Arc<dyn ErasedEvent>,
}

impl std::fmt::Debug for ParticipantBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticipantBuilder")
            .field("name", &self.name)
            .field("commands", &self.commands.keys().collect::<Vec<_>>())
            .field(
                "events",
                &self.events.iter().map(|e| &e.topic).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ParticipantBuilder {
    /// Replaces the default [`ParticipantConfig`].
    pub fn with_config(mut self, config: ParticipantConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the default [`InMemoryIdempotencyStore`].
    pub fn with_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.store = store;
        self
    }

    /// Handles the command `name`: decodes it as `C`, runs `handler` once per idempotency key, and replies
    /// with `R` (or with the error: permanent means "no", transient means "try again"). Registering a
    /// name twice replaces the first handler.
    pub fn command<C, R, F, Fut>(mut self, name: impl Into<Arc<str>>, handler: F) -> Self
    where
        C: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(CommandContext, C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, StepError>> + Send + 'static,
    {
        let handler = CommandFn {
            f: Arc::new(handler),
            _types: PhantomData,
        };
        self.commands.insert(name.into(), Arc::new(handler));
        self
    }

    /// Handles events of type `E` published to `topic`, in this participant's group (every participant
    /// receives every event; replicas of one participant share them). The handler runs once per event id;
    /// the event is acknowledged after it succeeds, redelivered after a transient error and dead-lettered
    /// after a permanent one.
    pub fn event<E, F, Fut>(mut self, topic: impl Into<Arc<str>>, handler: F) -> Self
    where
        E: DeserializeOwned + Send + 'static,
        F: Fn(EventContext, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), StepError>> + Send + 'static,
    {
        let topic = topic.into();
        let scope = Arc::from(format!("{}/{}", self.name, topic));
        self.events.push(EventRoute {
            topic,
            scope,
            handler: Arc::new(EventFn {
                f: Arc::new(handler),
                _types: PhantomData,
            }),
        });
        self
    }

    /// Subscribes to the command topic (if any command is registered) and every event topic, then runs the
    /// participant on a task. Messages published after this returns are received.
    ///
    /// # Errors
    /// What [`Transport::subscribe`] returns.
    pub async fn spawn(self) -> Result<Participant, TransportError> {
        let mut streams = Vec::new();
        if !self.commands.is_empty() {
            let topic = self.config.command_topic.as_deref().unwrap_or(&self.name);
            let sub = self.transport.subscribe(topic, &self.name).await?;
            streams.push(into_stream(sub).map(|d| (Source::Command, d)).boxed());
        }
        for (i, route) in self.events.iter().enumerate() {
            let sub = self.transport.subscribe(&route.topic, &self.name).await?;
            streams.push(into_stream(sub).map(move |d| (Source::Event(i), d)).boxed());
        }
        let runtime = Arc::new(Runtime {
            publisher: EventPublisher::new(Arc::clone(&self.transport)),
            name: self.name,
            transport: self.transport,
            store: self.store,
            config: self.config,
            commands: self.commands,
            events: self.events,
            stats: Stats::default(),
        });
        let (stop, stopped) = watch::channel(false);
        let task =
            tokio::spawn(Arc::clone(&runtime).run(futures::stream::select_all(streams), stopped));
        Ok(Participant {
            runtime,
            stop,
            task,
        })
    }
}

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
    runtime: Arc<Runtime>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
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
        ParticipantBuilder {
            name: name.into(),
            transport,
            store: Arc::new(InMemoryIdempotencyStore::new()),
            config: ParticipantConfig::default(),
            commands: HashMap::new(),
            events: Vec::new(),
        }
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
enum Source {
    Command,
    Event(usize),
}

#[derive(Default)]
struct Stats {
    executed: AtomicU64,
    duplicates: AtomicU64,
    dead_lettered: AtomicU64,
    requeued: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Runtime {
    name: Arc<str>,
    transport: Arc<dyn Transport>,
    publisher: EventPublisher,
    store: Arc<dyn IdempotencyStore>,
    config: ParticipantConfig,
    commands: HashMap<Arc<str>, Arc<dyn ErasedCommand>>,
    events: Vec<EventRoute>,
    stats: Stats,
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
    async fn run(
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
                        tracing::warn!(participant = %self.name, error = %e, "subscription error");
                    }
                },
            }
        }
        while inflight.next().await.is_some() {}
    }

    async fn process(self: Arc<Self>, source: Source, delivery: Delivery) {
        let size = delivery.message().size();
        if size > self.config.max_message_size {
            let reason = format!(
                "message of {size} bytes exceeds the limit of {} bytes",
                self.config.max_message_size
            );
            return self.dead_letter(delivery, &reason).await;
        }
        if delivery.deliveries() > self.config.max_deliveries {
            let reason = format!("delivered {} times", delivery.deliveries());
            return self.dead_letter(delivery, &reason).await;
        }
        match source {
            Source::Command => self.command(delivery).await,
            Source::Event(i) => self.event(i, delivery).await,
        }
    }

    async fn dead_letter(&self, delivery: Delivery, reason: &str) {
        bump(&self.stats.dead_lettered);
        tracing::warn!(
            participant = %self.name, message_id = %delivery.message().headers.message_id,
            reason, "dead-lettering message"
        );
        if let Err(e) = delivery.dead_letter(reason).await {
            tracing::warn!(participant = %self.name, error = %e, "dead-lettering failed");
        }
    }

    async fn requeue(&self, delivery: Delivery, delay: Option<std::time::Duration>) {
        bump(&self.stats.requeued);
        tokio::time::sleep(delay.unwrap_or(self.config.retry_delay)).await;
        if let Err(e) = delivery.nack(true).await {
            tracing::warn!(participant = %self.name, error = %e, "requeue failed");
        }
    }

    async fn ack(&self, delivery: Delivery) {
        if let Err(e) = delivery.ack().await {
            tracing::warn!(participant = %self.name, error = %e, "ack failed; expect a redelivery");
        }
    }

    async fn command(&self, delivery: Delivery) {
        let h = &delivery.message().headers;
        if h.kind != MessageKind::Command {
            let reason = format!("expected a command, got a {}", h.kind.as_str());
            return self.dead_letter(delivery, &reason).await;
        }
        let (Some(key), Some(name), Some(reply_topic)) =
            (h.idempotency_key(), h.name.clone(), h.reply_to.clone())
        else {
            let reason = "command without saga id, step, direction, name or reply-to";
            return self.dead_letter(delivery, reason).await;
        };
        let Some(handler) = self.commands.get(&name) else {
            let reason = format!("no handler for command {name:?}");
            return self.dead_letter(delivery, &reason).await;
        };
        let ctx = CommandContext {
            key,
            attempt: h.attempt,
            message_id: h.message_id,
            deliveries: delivery.deliveries(),
            command: Arc::clone(&name),
        };
        let fut = match handler.call(ctx, &delivery.message().payload) {
            Ok(fut) => fut,
            Err(e) => {
                let reason = format!("malformed command {name:?}: {e}");
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
                tracing::warn!(participant = %self.name, key = %key_text, error = %e, "store claim failed");
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
                let result = AssertUnwindSafe(fut)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err(StepError::transient("participant handler panicked")));
                let stored = match result {
                    Ok(bytes) => StoredReply::new(ReplyStatus::Ok, bytes),
                    Err(e) if !e.is_transient() => {
                        StoredReply::new(ReplyStatus::Rejected, encode_failure(&e))
                    }
                    Err(e) => {
                        if let Err(se) = self.store.release(&self.name, &key_text).await {
                            tracing::warn!(participant = %self.name, error = %se, "store release failed");
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
                            participant = %self.name, key = %key_text, error = %e,
                            "cannot record executed command; a redelivery may execute it again"
                        );
                    }
                }
                stored
            }
        };
        let message = reply_to(h, reply.status, reply.payload);
        match self.transport.publish(&reply_topic, message).await {
            Ok(()) => self.ack(delivery).await,
            Err(e) if e.is_transient() => {
                tracing::warn!(participant = %self.name, error = %e, "reply publish failed; requeueing");
                self.requeue(delivery, None).await;
            }
            Err(e) => {
                let reason = format!("reply cannot be published: {e}");
                self.dead_letter(delivery, &reason).await;
            }
        }
    }

    async fn event(&self, index: usize, delivery: Delivery) {
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
                let reason = format!("malformed event on {:?}: {e}", route.topic);
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
                tracing::warn!(participant = %self.name, error = %e, "store claim failed");
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
                            tracing::error!(participant = %self.name, error = %e, "cannot record handled event");
                        }
                        self.ack(delivery).await;
                    }
                    Err(e) => {
                        if let Err(se) = self.store.release(&route.scope, &key).await {
                            tracing::warn!(participant = %self.name, error = %se, "store release failed");
                        }
                        if e.is_transient() {
                            self.requeue(delivery, e.retry_after()).await;
                        } else {
                            let reason = format!("event handler refused: {}", e.message());
                            self.dead_letter(delivery, &reason).await;
                        }
                    }
                }
            }
        }
    }
}
