//! Messages: an opaque payload plus typed, well-known headers.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use uuid::Uuid;

use super::TransportError;
use crate::id::{Direction, IdempotencyKey, SagaId};

/// The unique id of one published message; replies carry the request's id as their correlation id, and
/// choreography deduplicates events on it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A fresh random (v4) id, drawn from a thread-local generator (no system call per message).
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Builder::from_random_bytes(rand::thread_rng().gen()).into_uuid())
    }

    /// Wraps an existing UUID.
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// A deterministic id derived from a parent id, a topic and a sequence number, so a handler that
    /// publishes again after a redelivery publishes the *same* ids and downstream deduplication holds.
    #[must_use]
    pub fn derive(parent: Self, topic: &str, seq: u32) -> Self {
        // Two FNV-1a 64 passes with different offsets: stable across Rust versions and platforms.
        let fnv = |offset: u64| {
            let mut h = offset;
            let mut eat = |bytes: &[u8]| {
                for b in bytes {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
            };
            eat(parent.0.as_bytes());
            eat(topic.as_bytes());
            eat(&seq.to_le_bytes());
            h
        };
        let hi = fnv(0xcbf2_9ce4_8422_2325);
        let lo = fnv(0x6c62_272e_07bb_0142);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0.hyphenated())
    }
}

impl FromStr for MessageId {
    type Err = TransportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| TransportError::malformed(format!("invalid message id {:?}", trunc(s))))
    }
}

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

/// Typed well-known headers plus free-form string headers.
///
/// Well-known headers are typed fields so the runtime never parses strings on the in-process path; the
/// broker adapters map them to and from strings with [`to_pairs`](Self::to_pairs) and
/// [`from_pairs`](Self::from_pairs), one mapping shared by every adapter. The idempotency key is not
/// stored twice: it is derived from saga id, step and direction ([`idempotency_key`](Self::idempotency_key))
/// and written to the wire as `saga-idempotency-key` for the benefit of non-Rust consumers.
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
    extra: Vec<(String, String)>,
}

/// Wire names of the well-known headers.
const H_ID: &str = "saga-message-id";
const H_KIND: &str = "saga-kind";
const H_NAME: &str = "saga-name";
const H_SAGA: &str = "saga-id";
const H_STEP: &str = "saga-step";
const H_DIR: &str = "saga-direction";
const H_ATTEMPT: &str = "saga-attempt";
const H_KEY: &str = "saga-idempotency-key";
const H_REPLY_TO: &str = "saga-reply-to";
const H_CORR: &str = "saga-correlation-id";
const H_STATUS: &str = "saga-status";
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

    /// Sets a free-form header, replacing an earlier value. Names starting with `saga-` are reserved for
    /// the well-known headers and rejected.
    ///
    /// # Errors
    /// [`TransportError::Malformed`] for a reserved or empty name.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), TransportError> {
        let name = name.into();
        if name.is_empty() || name.starts_with("saga-") {
            return Err(TransportError::malformed(format!(
                "header name {:?} is empty or reserved",
                trunc(&name)
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

    /// Every header as a (name, value) string pair, for brokers that carry string headers.
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(Cow<'static, str>, String)> {
        let mut out: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(12 + self.extra.len());
        out.push((H_ID.into(), self.message_id.to_string()));
        out.push((H_KIND.into(), self.kind.as_str().to_owned()));
        let mut opt = |name: &'static str, value: Option<String>| {
            if let Some(v) = value {
                out.push((name.into(), v));
            }
        };
        opt(H_NAME, self.name.as_deref().map(str::to_owned));
        opt(H_SAGA, self.saga_id.map(|v| v.to_string()));
        opt(H_STEP, self.step.map(|v| v.to_string()));
        opt(H_DIR, self.direction.map(|v| v.as_str().to_owned()));
        opt(H_ATTEMPT, self.attempt.map(|v| v.to_string()));
        opt(H_KEY, self.idempotency_key().map(|k| k.to_string()));
        opt(H_REPLY_TO, self.reply_to.as_deref().map(str::to_owned));
        opt(H_CORR, self.correlation_id.map(|v| v.to_string()));
        opt(H_STATUS, self.status.map(|v| v.as_str().to_owned()));
        out.extend(
            self.extra
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), v.clone())),
        );
        out
    }

    /// Parses headers written by [`to_pairs`](Self::to_pairs). Unknown `saga-` names are ignored (newer
    /// writers), other names become free-form headers.
    ///
    /// # Errors
    /// [`TransportError::Malformed`] if the id or kind is missing, a typed value does not parse, or the
    /// idempotency key disagrees with saga id, step and direction.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, TransportError> {
        fn parse<T: FromStr>(name: &str, v: &str) -> Result<T, TransportError> {
            v.parse()
                .map_err(|_| TransportError::malformed(format!("invalid {name} {:?}", trunc(v))))
        }
        let mut id = None;
        let mut kind = None;
        let mut key: Option<IdempotencyKey> = None;
        let mut h = Self::new(MessageKind::Event);
        for (name, v) in pairs {
            match name {
                H_ID => id = Some(v.parse::<MessageId>()?),
                H_KIND => {
                    kind = Some(match v {
                        "command" => MessageKind::Command,
                        "reply" => MessageKind::Reply,
                        "event" => MessageKind::Event,
                        _ => {
                            return Err(TransportError::malformed(format!(
                                "invalid kind {:?}",
                                trunc(v)
                            )))
                        }
                    });
                }
                H_NAME => h.name = Some(Arc::from(v)),
                H_SAGA => h.saga_id = Some(parse(name, v)?),
                H_STEP => h.step = Some(parse(name, v)?),
                H_DIR => {
                    h.direction = Some(match v {
                        "forward" => Direction::Forward,
                        "compensate" => Direction::Compensate,
                        _ => {
                            return Err(TransportError::malformed(format!(
                                "invalid direction {:?}",
                                trunc(v)
                            )))
                        }
                    });
                }
                H_ATTEMPT => h.attempt = Some(parse(name, v)?),
                H_KEY => key = Some(parse(name, v)?),
                H_REPLY_TO => h.reply_to = Some(Arc::from(v)),
                H_CORR => h.correlation_id = Some(v.parse::<MessageId>()?),
                H_STATUS => {
                    h.status = Some(match v {
                        "ok" => ReplyStatus::Ok,
                        "rejected" => ReplyStatus::Rejected,
                        "failed" => ReplyStatus::Failed,
                        _ => {
                            return Err(TransportError::malformed(format!(
                                "invalid status {:?}",
                                trunc(v)
                            )))
                        }
                    });
                }
                other if other.starts_with("saga-") => {}
                other => h.extra.push((other.to_owned(), v.to_owned())),
            }
        }
        h.message_id = id.ok_or_else(|| TransportError::malformed("missing saga-message-id"))?;
        h.kind = kind.ok_or_else(|| TransportError::malformed("missing saga-kind"))?;
        if let Some(key) = key {
            match h.idempotency_key() {
                Some(derived) if derived != key => {
                    return Err(TransportError::malformed(
                        "saga-idempotency-key disagrees with saga-id/step/direction",
                    ))
                }
                Some(_) => {}
                None => h.set_idempotency_key(key),
            }
        }
        Ok(h)
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

    /// The payload size in bytes, the figure size limits apply to.
    #[must_use]
    pub fn size(&self) -> usize {
        self.payload.len()
    }

    /// A placeholder left behind when a message is moved out of a settled delivery.
    pub(crate) fn placeholder() -> Self {
        Self {
            headers: Headers {
                message_id: MessageId(Uuid::nil()),
                ..Headers::new(MessageKind::Event)
            },
            payload: Bytes::new(),
        }
    }
}

fn trunc(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_pairs() {
        let mut h = Headers::new(MessageKind::Reply);
        h.name = Some(Arc::from("reserve_stock"));
        h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), 2, Direction::Compensate));
        h.attempt = Some(3);
        h.reply_to = Some(Arc::from("replies.a"));
        h.correlation_id = Some(MessageId::new());
        h.status = Some(ReplyStatus::Rejected);
        h.insert("trace", "abc").expect("free-form header");
        let pairs = h.to_pairs();
        let parsed = Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
            .expect("round trip");
        assert_eq!(parsed, h);
        assert!(h.insert("saga-id", "x").is_err());
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(Headers::from_pairs([("saga-kind", "event")]).is_err());
        let id = MessageId::new().to_string();
        assert!(
            Headers::from_pairs([("saga-message-id", id.as_str()), ("saga-kind", "nope")]).is_err()
        );
        assert!(Headers::from_pairs([
            ("saga-message-id", id.as_str()),
            ("saga-kind", "command"),
            ("saga-step", "-1"),
        ])
        .is_err());
    }

    #[test]
    fn derived_ids_are_stable() {
        let p = MessageId::new();
        assert_eq!(MessageId::derive(p, "t", 1), MessageId::derive(p, "t", 1));
        assert_ne!(MessageId::derive(p, "t", 1), MessageId::derive(p, "t", 2));
        assert_ne!(MessageId::derive(p, "t", 1), MessageId::derive(p, "u", 1));
    }
}
