//! Handler state injected by the builder (the axum `State` idea): [`ParticipantBuilder::with_state`].

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{CommandContext, EventContext, ParticipantBuilder, ParticipantConfig};
use super::{IdempotencyStore, Participant};
use crate::step::StepError;
use crate::transport::TransportError;

/// The state a [`StatefulBuilder`] hands to every handler, as its first argument; destructure it with
/// `State(s)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State<S>(pub S);

/// A [`ParticipantBuilder`] whose handlers receive a clone of one state value, so they need no `Arc`
/// clones of their own; built by [`ParticipantBuilder::with_state`].
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use saga::participant::{Participant, State};
/// use saga::transport::{InProcTransport, Transport};
/// use saga::StepError;
///
/// let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
/// let bank = Participant::builder("bank", transport)
///     .with_state(Arc::new(AtomicU64::new(100)))
///     .command("debit", |State(balance): State<Arc<AtomicU64>>, _ctx, cents: u64| async move {
///         Ok::<_, StepError>(balance.fetch_sub(cents, Ordering::SeqCst))
///     })
///     .spawn()
///     .await?;
/// bank.shutdown().await;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use]
#[derive(Debug)]
pub struct StatefulBuilder<S> {
    inner: ParticipantBuilder,
    state: S,
}

impl ParticipantBuilder {
    /// Gives every handler registered after this call a clone of `state` (wrapped in [`State`]) as its
    /// first argument. Use a cheap-to-clone value: an `Arc`, a pool, a handle.
    pub fn with_state<S: Clone + Send + Sync + 'static>(self, state: S) -> StatefulBuilder<S> {
        StatefulBuilder { inner: self, state }
    }
}

impl<S: Clone + Send + Sync + 'static> StatefulBuilder<S> {
    /// As [`ParticipantBuilder::command`], with the state as the handler's first argument.
    pub fn command<C, R, F, Fut>(self, name: impl Into<Arc<str>>, handler: F) -> Self
    where
        C: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(State<S>, CommandContext, C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, StepError>> + Send + 'static,
    {
        let state = self.state.clone();
        let inner = self.inner.command(name, move |ctx, cmd| {
            handler(State(state.clone()), ctx, cmd)
        });
        Self {
            inner,
            state: self.state,
        }
    }

    /// As [`ParticipantBuilder::event`], with the state as the handler's first argument.
    pub fn event<E, F, Fut>(self, topic: impl Into<Arc<str>>, handler: F) -> Self
    where
        E: DeserializeOwned + Send + 'static,
        F: Fn(State<S>, EventContext, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), StepError>> + Send + 'static,
    {
        let state = self.state.clone();
        let inner = self
            .inner
            .event(topic, move |ctx, ev| handler(State(state.clone()), ctx, ev));
        Self {
            inner,
            state: self.state,
        }
    }

    /// As [`ParticipantBuilder::with_config`].
    pub fn with_config(self, config: ParticipantConfig) -> Self {
        Self {
            inner: self.inner.with_config(config),
            state: self.state,
        }
    }

    /// As [`ParticipantBuilder::with_store`].
    pub fn with_store(self, store: Arc<dyn IdempotencyStore>) -> Self {
        Self {
            inner: self.inner.with_store(store),
            state: self.state,
        }
    }

    /// As [`ParticipantBuilder::spawn`].
    ///
    /// # Errors
    /// What [`ParticipantBuilder::spawn`] returns.
    pub async fn spawn(self) -> Result<Participant, TransportError> {
        self.inner.spawn().await
    }
}
