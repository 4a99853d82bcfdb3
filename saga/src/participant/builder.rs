//! Assembling a participant: its handlers, store and configuration, then spawning it.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::stream::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use super::handler::{CommandFn, ErasedCommand, ErasedEvent, EventFn};
use super::redeliveries::LocalCounts;
use super::runtime::{Runtime, Source, Stats};
use super::store::{IdempotencyStore, InMemoryIdempotencyStore};
use super::{CommandContext, EventContext, EventPublisher, Participant, ParticipantConfig};
use crate::step::StepError;
use crate::transport::{into_stream, CountPrecision, Transport, TransportError, TransportExt};

/// Message ids one participant remembers delivery counts of, per generation (two are kept).
const LOCAL_COUNTS_PER_GENERATION: usize = 16 * 1024;

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

pub(super) struct EventRoute {
    pub(super) topic: Arc<str>,
    pub(super) scope: Arc<str>,
    pub(super) handler: Arc<dyn ErasedEvent>,
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
    pub(super) fn new(name: Arc<str>, transport: Arc<dyn Transport>) -> Self {
        Self {
            name,
            transport,
            store: Arc::new(InMemoryIdempotencyStore::new()),
            config: ParticipantConfig::default(),
            commands: HashMap::new(),
            events: Vec::new(),
        }
    }

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
    /// name twice replaces the first handler. Prefer [`handle`](Self::handle), which takes the name
    /// and both types from one [`Command`](super::Command) declaration that the orchestrator's remote
    /// step uses too.
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
            let sub = self.transport.subscribe_durable(topic, &self.name).await?;
            streams.push(into_stream(sub).map(|d| (Source::Command, d)).boxed());
        }
        for (i, route) in self.events.iter().enumerate() {
            let sub = self
                .transport
                .subscribe_durable(&route.topic, &self.name)
                .await?;
            streams.push(into_stream(sub).map(move |d| (Source::Event(i), d)).boxed());
        }
        // Where the transport cannot count deliveries exactly, the runtime counts them itself so that
        // `max_deliveries` still stops a poison message.
        let local_counts = (self.transport.capabilities().delivery_count != CountPrecision::Exact)
            .then(|| LocalCounts::new(LOCAL_COUNTS_PER_GENERATION));
        let runtime = Arc::new(Runtime {
            publisher: EventPublisher::new(Arc::clone(&self.transport)),
            name: self.name,
            transport: self.transport,
            store: self.store,
            config: self.config,
            commands: self.commands,
            events: self.events,
            stats: Stats::default(),
            local_counts,
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
