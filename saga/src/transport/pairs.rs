//! The string form of headers, shared by every broker adapter that carries string headers.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use super::headers::{
    H_ATTEMPT, H_CORR, H_DIR, H_ID, H_KEY, H_KIND, H_NAME, H_REPLY_TO, H_SAGA, H_STATUS, H_STEP,
};
use super::{Headers, MessageId, MessageKind, ReplyStatus, TransportError};
use crate::id::{Direction, IdempotencyKey};

impl Headers {
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
                .map_err(|_| TransportError::malformed(format_args!("invalid {name} {v:?}")))
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
                            return Err(TransportError::malformed(format_args!(
                                "invalid kind {v:?}"
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
                            return Err(TransportError::malformed(format_args!(
                                "invalid direction {v:?}"
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
                            return Err(TransportError::malformed(format_args!(
                                "invalid status {v:?}"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SagaId;

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
}
