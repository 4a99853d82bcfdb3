//! Messages: an opaque payload plus typed, well-known headers, and what a message is for.

use bytes::Bytes;
use uuid::Uuid;

use super::{Headers, MessageId};

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A command to one participant (orchestration).
    Command,
    /// A reply to a command, routed to the requester's reply topic.
    Reply,
    /// An event, fanned out to every subscribed group (choreography).
    Event,
}

impl MessageKind {
    /// `"command"`, `"reply"` or `"event"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Reply => "reply",
            Self::Event => "event",
        }
    }
}

/// The outcome a [`MessageKind::Reply`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyStatus {
    /// The command succeeded; the payload is the encoded reply.
    Ok,
    /// The participant said no (a permanent error): the orchestrator compensates.
    Rejected,
    /// The handler failed transiently: the orchestrator retries per its policy.
    Failed,
}

impl ReplyStatus {
    /// `"ok"`, `"rejected"` or `"failed"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// One message: headers and an opaque payload (the runtime encodes payloads with serde_json).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The headers.
    pub headers: Headers,
    /// The payload; cloning it is a reference-count increment.
    pub payload: Bytes,
}

impl Message {
    /// A message of the given kind with fresh headers.
    #[must_use]
    pub fn new(kind: MessageKind, payload: impl Into<Bytes>) -> Self {
        Self {
            headers: Headers::new(kind),
            payload: payload.into(),
        }
    }

    /// A message with the given headers.
    #[must_use]
    pub fn with_headers(headers: Headers, payload: impl Into<Bytes>) -> Self {
        Self {
            headers,
            payload: payload.into(),
        }
    }

    /// The size of the whole message in bytes, the figure size limits apply to: every header's name and
    /// value ([`Headers::size`]) plus the payload. Cheap: nothing is encoded or copied to measure it.
    #[must_use]
    pub fn size(&self) -> usize {
        self.headers.size() + self.payload.len()
    }

    /// A placeholder left behind when a message is moved out of a settled delivery.
    pub(crate) fn placeholder() -> Self {
        Self {
            headers: Headers {
                message_id: MessageId::from_uuid(Uuid::nil()),
                ..Headers::new(MessageKind::Event)
            },
            payload: Bytes::new(),
        }
    }
}
