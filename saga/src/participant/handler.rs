//! Type erasure of user handlers: decode the payload, call the typed closure, encode the reply.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{CommandContext, EventContext};
use crate::step::StepError;

pub(crate) type CommandFuture = BoxFuture<'static, Result<Bytes, StepError>>;
pub(crate) type EventFuture = BoxFuture<'static, Result<(), StepError>>;

/// A command handler with its types erased. Decoding happens in `call`, before anything is claimed.
pub(crate) trait ErasedCommand: Send + Sync + 'static {
    fn call(&self, ctx: CommandContext, payload: &[u8])
        -> Result<CommandFuture, serde_json::Error>;
}

/// An event handler with its types erased.
pub(crate) trait ErasedEvent: Send + Sync + 'static {
    fn call(&self, ctx: EventContext, payload: &[u8]) -> Result<EventFuture, serde_json::Error>;
}

pub(crate) struct CommandFn<F, C, R> {
    pub(crate) f: Arc<F>,
    pub(crate) _types: PhantomData<fn(C) -> R>,
}

impl<F, C, R, Fut> ErasedCommand for CommandFn<F, C, R>
where
    F: Fn(CommandContext, C) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, StepError>> + Send + 'static,
    C: DeserializeOwned + Send + 'static,
    R: Serialize + 'static,
{
    fn call(
        &self,
        ctx: CommandContext,
        payload: &[u8],
    ) -> Result<CommandFuture, serde_json::Error> {
        let cmd: C = serde_json::from_slice(payload)?;
        let f = Arc::clone(&self.f);
        // The closure is called only when the future runs, i.e. after the key was claimed: even the
        // synchronous part of a handler never runs for a duplicate.
        Ok(async move {
            let reply = f(ctx, cmd).await?;
            serde_json::to_vec(&reply).map(Bytes::from).map_err(|e| {
                StepError::transient(format!("participant cannot encode its reply: {e}"))
            })
        }
        .boxed())
    }
}

pub(crate) struct EventFn<F, E> {
    pub(crate) f: Arc<F>,
    pub(crate) _types: PhantomData<fn(E)>,
}

impl<F, E, Fut> ErasedEvent for EventFn<F, E>
where
    F: Fn(EventContext, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), StepError>> + Send + 'static,
    E: DeserializeOwned + Send + 'static,
{
    fn call(&self, ctx: EventContext, payload: &[u8]) -> Result<EventFuture, serde_json::Error> {
        let event: E = serde_json::from_slice(payload)?;
        let f = Arc::clone(&self.f);
        Ok(async move { f(ctx, event).await }.boxed())
    }
}
