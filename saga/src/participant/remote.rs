//! The orchestration bridge: saga steps whose work is done by a remote participant.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

use super::wire::decode_failure;
use super::ReplyRouter;
use crate::step::{Compensation, SagaData, Step, StepContext, StepError, StepErrorKind};
use crate::transport::{
    bounded, Bounded, Headers, Message, MessageId, MessageKind, ReplyStatus, TransportError,
};

/// A [`Step`] that sends a command to a participant and waits for its correlated reply.
///
/// `to_command` builds the command from the saga data; `on_reply` folds the reply into the data. A
/// participant's permanent error ("no") becomes a permanent [`StepError`] (the saga compensates), as does
/// a command too large or malformed to send; a transient one, a timeout or any other transport error
/// (connection lost, transport closed) become transient errors (retried per the
/// step's policy, with the same idempotency key, so the participant executes it once). Made by
/// [`ReplyRouter::remote_step`] from a [`Command`](super::Command) (recommended: the types are the
/// command's) or by [`ReplyRouter::step`] from a name.
pub struct RemoteStep<D, C, R, F, G> {
    call: RemoteCall,
    to_command: F,
    on_reply: G,
    _types: PhantomData<fn(&mut D, C, R)>,
}

/// A [`Compensation`] that sends a command to a participant and waits for its reply (whose payload is
/// ignored). Made by [`ReplyRouter::remote_compensation`] from a [`Command`](super::Command)
/// (recommended) or by [`ReplyRouter::compensation`] from a name.
pub struct RemoteCompensation<D, C, F> {
    call: RemoteCall,
    to_command: F,
    _types: PhantomData<fn(&D, C)>,
}

struct RemoteCall {
    router: ReplyRouter,
    topic: Arc<str>,
    command: Arc<str>,
    timeout: Duration,
}

impl<D, C, R, F, G> std::fmt::Debug for RemoteStep<D, C, R, F, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStep")
            .field("topic", &self.call.topic)
            .field("command", &self.call.command)
            .finish_non_exhaustive()
    }
}

impl<D, C, F> std::fmt::Debug for RemoteCompensation<D, C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCompensation")
            .field("topic", &self.call.topic)
            .field("command", &self.call.command)
            .finish_non_exhaustive()
    }
}

impl ReplyRouter {
    /// A step that sends command `command`, built by `to_command`, to the participant listening on
    /// `topic` (by default the participant's name), and applies the reply with `on_reply`. Prefer
    /// [`remote_step`](Self::remote_step), which takes the name and both types from one
    /// [`Command`](super::Command) declaration that the participant's handler uses too.
    pub fn step<D, C, R, F, G>(
        &self,
        topic: impl Into<Arc<str>>,
        command: impl Into<Arc<str>>,
        to_command: F,
        on_reply: G,
    ) -> RemoteStep<D, C, R, F, G>
    where
        F: Fn(&D) -> C,
        G: Fn(&mut D, R),
    {
        RemoteStep {
            call: self.call(topic.into(), command.into()),
            to_command,
            on_reply,
            _types: PhantomData,
        }
    }

    /// A compensation that sends command `command`, built by `to_command`, to the participant on
    /// `topic`. Prefer [`remote_compensation`](Self::remote_compensation).
    pub fn compensation<D, C, F>(
        &self,
        topic: impl Into<Arc<str>>,
        command: impl Into<Arc<str>>,
        to_command: F,
    ) -> RemoteCompensation<D, C, F>
    where
        F: Fn(&D) -> C,
    {
        RemoteCompensation {
            call: self.call(topic.into(), command.into()),
            to_command,
            _types: PhantomData,
        }
    }

    fn call(&self, topic: Arc<str>, command: Arc<str>) -> RemoteCall {
        RemoteCall {
            router: self.clone(),
            topic,
            command,
            timeout: self.timeout(),
        }
    }
}

impl<D, C, R, F, G> RemoteStep<D, C, R, F, G> {
    /// How long each attempt waits for the reply (default: the router's timeout).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.call.timeout = timeout;
        self
    }
}

impl<D, C, F> RemoteCompensation<D, C, F> {
    /// How long each attempt waits for the reply (default: the router's timeout).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.call.timeout = timeout;
        self
    }
}

/// The message id of a command: derived from the saga, the idempotency key, the command and the attempt.
fn command_id(ctx: &StepContext, command: &str) -> MessageId {
    let key = ctx.idempotency_key();
    MessageId::derive(
        MessageId::from_uuid(*key.saga_id.as_uuid()),
        &format!("{key}/{command}"),
        ctx.attempt(),
    )
}

impl RemoteCall {
    /// Sends the command and returns the reply payload, or the step error the reply (or its absence)
    /// stands for.
    fn encode<C: Serialize>(&self, command: &C) -> Result<Bytes, StepError> {
        serde_json::to_vec(command).map(Bytes::from).map_err(|e| {
            StepError::permanent(format!("cannot encode command {}: {e}", self.command))
        })
    }

    async fn send(&self, ctx: &StepContext, payload: Bytes) -> Result<Bytes, StepError> {
        let mut headers = Headers::new(MessageKind::Command);
        headers.name = Some(Arc::clone(&self.command));
        headers.set_idempotency_key(ctx.idempotency_key());
        headers.attempt = Some(ctx.attempt());
        // The attempt's span is the parent of the participant's handler span.
        headers.trace = Some(ctx.trace().clone());
        // The same attempt of the same step always sends the same message id, so after an
        // orchestrator restart the reply to the attempt that was in flight answers its re-issue.
        headers.message_id = command_id(ctx, &self.command);
        let request = Message::with_headers(headers, payload);
        let reply = self
            .router
            .request(&self.topic, request, self.timeout)
            .await
            .map_err(|e| self.transport_error(e))?;
        match reply.headers.status {
            Some(ReplyStatus::Ok) => Ok(reply.payload),
            Some(ReplyStatus::Rejected) => {
                Err(decode_failure(StepErrorKind::Permanent, &reply.payload))
            }
            Some(ReplyStatus::Failed) => {
                Err(decode_failure(StepErrorKind::Transient, &reply.payload))
            }
            None => Err(StepError::transient(format!(
                "reply to {} carries no status",
                self.command
            ))),
        }
    }

    /// Only errors proving the command was not sent and never can be (too large, malformed) refuse the
    /// step; anything else (including a closed transport during shutdown) leaves the outcome open, so
    /// the step is retried with the same idempotency key and, if that runs out, takes the
    /// unknown-outcome path instead of being reported as a business refusal.
    fn transport_error(&self, e: TransportError) -> StepError {
        let kind = match e {
            TransportError::MessageTooLarge { .. } | TransportError::Malformed { .. } => {
                StepErrorKind::Permanent
            }
            _ => StepErrorKind::Transient,
        };
        let message = format!("command {} to {}: {e}", self.command, self.topic);
        StepError::new(kind, message).with_source(e)
    }
}

#[async_trait]
impl<D, C, R, F, G> Step<D> for RemoteStep<D, C, R, F, G>
where
    D: SagaData,
    C: Serialize + 'static,
    R: DeserializeOwned + 'static,
    F: Fn(&D) -> C + Send + Sync + 'static,
    G: Fn(&mut D, R) + Send + Sync + 'static,
{
    async fn execute(&self, ctx: &StepContext, data: &mut D) -> Result<(), StepError> {
        let command = self.call.encode(&(self.to_command)(data))?;
        let payload = self.call.send(ctx, command).await?;
        let reply: R = serde_json::from_slice(&payload).map_err(|e| {
            tracing::warn!(command = %self.call.command, error = %Bounded(&e), "malformed reply");
            StepError::transient(bounded(format_args!(
                "malformed reply to {}: {e}",
                self.call.command
            )))
        })?;
        (self.on_reply)(data, reply);
        Ok(())
    }
}

#[async_trait]
impl<D, C, F> Compensation<D> for RemoteCompensation<D, C, F>
where
    D: SagaData,
    C: Serialize + 'static,
    F: Fn(&D) -> C + Send + Sync + 'static,
{
    async fn compensate(&self, ctx: &StepContext, data: &D) -> Result<(), StepError> {
        let command = self.call.encode(&(self.to_command)(data))?;
        let payload = self.call.send(ctx, command).await?;
        // Any well-formed JSON reply will do; its content is not used.
        let _: IgnoredAny = serde_json::from_slice(&payload).map_err(|e| {
            StepError::transient(bounded(format_args!(
                "malformed reply to {}: {e}",
                self.call.command
            )))
        })?;
        Ok(())
    }
}
