//! The string form of headers, shared by every broker adapter that carries string headers.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use super::headers::{
    H_ATTEMPT, H_CORR, H_DIR, H_ID, H_KEY, H_KIND, H_NAME, H_REPLY_TO, H_SAGA, H_STATUS, H_STEP,
};
use super::{Headers, MessageId, MessageKind, ReplyStatus, TransportError};
use crate::id::{Direction, IdempotencyKey};
use crate::trace::{TraceContext, TracePairs};

/// The length of a UUID's hyphenated text (message ids, saga ids, correlation ids).
const UUID_LEN: usize = 36;

/// The length of `n` in decimal.
fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Headers {
    /// The size in bytes of every header as [`to_pairs`](Self::to_pairs) writes it (each name plus each
    /// value, well-known and free-form alike), computed without writing them.
    #[must_use]
    pub fn size(&self) -> usize {
        let opt = |name: &str, value: Option<usize>| value.map_or(0, |len| name.len() + len);
        let key = self.idempotency_key().map(|k| {
            // "{saga id}/{step}/{direction}"
            UUID_LEN + 1 + digits(k.step) + 1 + k.direction.as_str().len()
        });
        let well_known = H_ID.len()
            + UUID_LEN
            + H_KIND.len()
            + self.kind.as_str().len()
            + opt(H_NAME, self.name.as_deref().map(str::len))
            + opt(H_SAGA, self.saga_id.map(|_| UUID_LEN))
            + opt(H_STEP, self.step.map(digits))
            + opt(H_DIR, self.direction.map(|d| d.as_str().len()))
            + opt(H_ATTEMPT, self.attempt.map(digits))
            + opt(H_KEY, key)
            + opt(H_REPLY_TO, self.reply_to.as_deref().map(str::len))
            + opt(H_CORR, self.correlation_id.map(|_| UUID_LEN))
            + opt(H_STATUS, self.status.map(|s| s.as_str().len()))
            + self.trace.as_ref().map_or(0, TraceContext::wire_size);
        let free_form: usize = self.extra.iter().map(|(k, v)| k.len() + v.len()).sum();
        well_known + free_form
    }

    /// Every header as a (name, value) string pair, for brokers that carry string headers.
    #[must_use]
    pub fn to_pairs(&self) -> Vec<(Cow<'static, str>, String)> {
        let mut out: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(14 + self.extra.len());
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
        if let Some(trace) = &self.trace {
            trace.write_pairs(&mut out);
        }
        out.extend(
            self.extra
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), v.clone())),
        );
        out
    }

    /// Parses headers written by [`to_pairs`](Self::to_pairs). Unknown `saga-` names are ignored (newer
    /// writers), other names become free-form headers. `traceparent` and `tracestate` (in any letter
    /// case) are read leniently: a missing, repeated or invalid `traceparent` leaves
    /// [`trace`](Self::trace) `None` and is never an error (see [`TraceContext::parse`]).
    ///
    /// # Errors
    /// [`TransportError::Malformed`] if the id or kind is missing, a typed value does not parse, the
    /// headers naming a saga step are incomplete ([`check_consistency`](Self::check_consistency)), or
    /// `saga-idempotency-key` is present without all of saga id, step and direction or disagrees with
    /// them. A message whose headers fail to parse is dead-lettered by the adapter with this error as the
    /// reason.
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
        let mut trace = TracePairs::default();
        for (name, v) in pairs {
            if trace.take(name, v) {
                continue;
            }
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
        h.trace = trace.finish();
        h.check_consistency()?;
        // The key is written for readers that do not parse the three headers; it never replaces them.
        match (key, h.idempotency_key()) {
            (Some(key), Some(derived)) if key != derived => Err(TransportError::malformed(
                format_args!("saga-idempotency-key {key} disagrees with saga-id/step/direction"),
            )),
            (Some(_), None) => Err(TransportError::malformed(
                "saga-idempotency-key without saga-id, saga-step and saga-direction",
            )),
            _ => Ok(h),
        }
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
        h.trace = Some(TraceContext::root().with_trace_state(Some("k=v")));
        let pairs = h.to_pairs();
        let parsed = Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
            .expect("round trip");
        assert_eq!(parsed, h);
        assert!(h.insert("saga-id", "x").is_err());
        assert!(h.insert("TraceParent", "x").is_err());
        assert!(h.insert("tracestate", "x").is_err());
    }

    #[test]
    fn size_counts_every_name_and_value_as_written() {
        let written =
            |h: &Headers| -> usize { h.to_pairs().iter().map(|(k, v)| k.len() + v.len()).sum() };
        let mut h = Headers::new(MessageKind::Reply);
        assert_eq!(h.size(), written(&h));
        h.name = Some(Arc::from("reserve_stock"));
        h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), 0, Direction::Forward));
        assert_eq!(h.size(), written(&h));
        for step in [9, 10, 4_294_967_295] {
            h.set_idempotency_key(IdempotencyKey::new(
                SagaId::new(),
                step,
                Direction::Compensate,
            ));
            h.attempt = Some(step);
            assert_eq!(h.size(), written(&h), "step {step}");
        }
        h.reply_to = Some(Arc::from("replies.a"));
        h.correlation_id = Some(MessageId::new());
        h.status = Some(ReplyStatus::Failed);
        h.insert("trace", "abc").expect("free-form header");
        h.insert("big", "x".repeat(1000)).expect("free-form header");
        assert_eq!(h.size(), written(&h));
        h.trace = Some(TraceContext::root());
        assert_eq!(h.size(), written(&h));
        h.trace = h
            .trace
            .map(|t| t.with_trace_state(Some("congo=t61rcWkgMzE")));
        assert_eq!(h.size(), written(&h));
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
