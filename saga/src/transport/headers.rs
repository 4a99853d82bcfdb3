//! Typed well-known headers plus free-form string headers.

use std::sync::Arc;

use super::{MessageId, MessageKind, ReplyStatus, TransportError};
use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::trace::{is_trace_header, TraceContext};

/// Typed well-known headers plus free-form string headers.
///
/// Well-known headers are typed fields so the runtime never parses strings on the in-process path; the
/// broker adapters map them to and from strings with [`to_pairs`](Self::to_pairs) and
/// [`from_pairs`](Self::from_pairs), one mapping shared by every adapter. The idempotency key is not
/// stored twice: it is derived from saga id, step and direction ([`idempotency_key`](Self::idempotency_key))
/// and written to the wire as `saga-idempotency-key` for the benefit of non-Rust consumers. Saga id, step
/// and direction must agree with each other ([`check_consistency`](Self::check_consistency)). The W3C
/// trace context is typed too ([`trace`](Self::trace)) and travels under its W3C names, `traceparent`
/// and `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Headers {
    /// This message's id.
    pub message_id: MessageId,
    /// Command, reply or event.
    pub kind: MessageKind,
    /// The command or event name handlers are registered under.
    pub name: Option<Arc<str>>,
    /// The saga this message belongs to.
    pub saga_id: Option<SagaId>,
    /// The step index (commands and replies).
    pub step: Option<u32>,
    /// Action or compensation (commands and replies).
    pub direction: Option<Direction>,
    /// The executor's attempt number (commands and replies).
    pub attempt: Option<u32>,
    /// The topic a reply goes to.
    pub reply_to: Option<Arc<str>>,
    /// On a reply, the id of the request it answers.
    pub correlation_id: Option<MessageId>,
    /// On a reply, the outcome.
    pub status: Option<ReplyStatus>,
    /// The W3C trace context: the trace and the span that sent this message (`traceparent`, plus
    /// `tracestate` if any). See [`crate::trace`].
    pub trace: Option<TraceContext>,
    pub(super) extra: Vec<(String, String)>,
}

/// Wire names of the well-known headers.
pub(super) const H_ID: &str = "saga-message-id";
pub(super) const H_KIND: &str = "saga-kind";
pub(super) const H_NAME: &str = "saga-name";
pub(super) const H_SAGA: &str = "saga-id";
pub(super) const H_STEP: &str = "saga-step";
pub(super) const H_DIR: &str = "saga-direction";
pub(super) const H_ATTEMPT: &str = "saga-attempt";
pub(super) const H_KEY: &str = "saga-idempotency-key";
pub(super) const H_REPLY_TO: &str = "saga-reply-to";
pub(super) const H_CORR: &str = "saga-correlation-id";
pub(super) const H_STATUS: &str = "saga-status";
/// The free-form header a dead-lettered message carries its reason in.
pub const DEAD_LETTER_REASON: &str = "dead-letter-reason";

impl Headers {
    /// Headers of the given kind with a fresh message id and nothing else set.
    #[must_use]
    pub fn new(kind: MessageKind) -> Self {
        Self {
            message_id: MessageId::new(),
            kind,
            name: None,
            saga_id: None,
            step: None,
            direction: None,
            attempt: None,
            reply_to: None,
            correlation_id: None,
            status: None,
            trace: None,
            extra: Vec::new(),
        }
    }

    /// The idempotency key, if saga id, step and direction are all present.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<IdempotencyKey> {
        Some(IdempotencyKey::new(
            self.saga_id?,
            self.step?,
            self.direction?,
        ))
    }

    /// Checks that the headers naming a saga step agree with each other: step and direction come
    /// together, and only with a saga id. So saga id, step and direction are all present (a step of a
    /// saga: commands and replies), only the saga id is (an event of a saga), or none is.
    ///
    /// The participant runtime and the reply router dead-letter a message that fails this check before
    /// reading anything else from it; [`from_pairs`](Self::from_pairs) also checks the
    /// `saga-idempotency-key` header against the three.
    ///
    /// # Errors
    /// [`TransportError::Malformed`] naming what is missing.
    pub fn check_consistency(&self) -> Result<(), TransportError> {
        let problem = match (self.saga_id, self.step, self.direction) {
            (_, Some(_), None) => "saga-step without saga-direction",
            (_, None, Some(_)) => "saga-direction without saga-step",
            (None, Some(_), Some(_)) => "saga-step and saga-direction without saga-id",
            _ => return Ok(()),
        };
        Err(TransportError::malformed(problem))
    }

    /// Sets saga id, step and direction from an idempotency key.
    pub fn set_idempotency_key(&mut self, key: IdempotencyKey) {
        self.saga_id = Some(key.saga_id);
        self.step = Some(key.step);
        self.direction = Some(key.direction);
    }

    /// A free-form header.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a free-form header, replacing an earlier value. Names starting with `saga-`, and
    /// `traceparent` and `tracestate` in any letter case, are reserved for the well-known headers and
    /// rejected (set [`trace`](Self::trace) instead).
    ///
    /// # Errors
    /// [`TransportError::Malformed`] for a reserved or empty name.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), TransportError> {
        let name = name.into();
        if name.is_empty() || name.starts_with("saga-") || is_trace_header(&name) {
            return Err(TransportError::malformed(format_args!(
                "header name {name:?} is empty or reserved"
            )));
        }
        let value = value.into();
        match self.extra.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((name, value)),
        }
        Ok(())
    }

    /// The free-form headers.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &str)> {
        self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Why the message was dead-lettered, on a message read from a dead-letter topic.
    #[must_use]
    pub fn dead_letter_reason(&self) -> Option<&str> {
        self.get(DEAD_LETTER_REASON)
    }
}
