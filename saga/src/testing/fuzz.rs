//! Fuzz entry points: each takes arbitrary bytes, builds the input of one decoder from them, decodes,
//! and asserts what must hold for any input (no panic, bounded output, a round trip for what
//! decodes). The `cargo fuzz` targets in `fuzz/` and the bounded proptests of arbitrary bytes run the
//! same functions; the adapter crates reuse [`FuzzInput`] for their own decoders.

use bytes::Bytes;

use crate::id::{IdempotencyKey, SagaId};
use crate::log::{EventKind, EventParts, LogEvent};
use crate::participant::wire::decode_failure;
use crate::step::StepErrorKind;
use crate::trace::TraceContext;
use crate::transport::{Headers, MessageId, MAX_BOUNDED_LEN};

/// Arbitrary bytes read as a sequence of values; reading past the end yields empty values, so every
/// input maps to some decoder input.
#[derive(Debug, Clone, Copy)]
pub struct FuzzInput<'a> {
    rest: &'a [u8],
}

impl<'a> FuzzInput<'a> {
    /// Reads `data`.
    #[must_use]
    pub const fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// Whether everything was read.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next byte, 0 at the end.
    pub fn byte(&mut self) -> u8 {
        let (first, rest) = self
            .rest
            .split_first()
            .map_or((0, &[][..]), |(b, r)| (*b, r));
        self.rest = rest;
        first
    }

    /// The next two bytes as a big-endian number.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A slice whose length is the next byte (so at most 255 bytes).
    pub fn short(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte());
        self.take(len)
    }

    /// A slice whose length is the next two bytes.
    pub fn long(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16());
        self.take(len)
    }

    /// Up to `len` bytes.
    pub fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        head
    }

    /// Everything not yet read.
    pub fn remainder(&mut self) -> &'a [u8] {
        self.take(self.rest.len())
    }

    /// `(name, value)` byte pairs until the input ends, at most `max`.
    pub fn pairs(&mut self, max: usize) -> Vec<(&'a [u8], &'a [u8])> {
        let mut out = Vec::new();
        while !self.is_empty() && out.len() < max {
            out.push((self.short(), self.long()));
        }
        out
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Message headers from arbitrary `(name, value)` pairs: parsing never panics, and headers that parse
/// write pairs that parse back to the same headers, measured alike.
///
/// # Panics
/// When that does not hold (the fuzzer's finding).
pub fn headers(data: &[u8]) {
    let owned: Vec<(String, String)> = FuzzInput::new(data)
        .pairs(512)
        .into_iter()
        .map(|(n, v)| (text(n), text(v)))
        .collect();
    let Ok(h) = Headers::from_pairs(owned.iter().map(|(n, v)| (n.as_str(), v.as_str()))) else {
        return;
    };
    let pairs = h.to_pairs();
    let back = Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_ref(), v.as_str())))
        .expect("headers written by to_pairs parse");
    assert_eq!(back, h, "headers round trip");
    assert_eq!(back.size(), h.size());
}

/// A W3C `traceparent`: parsing never panics, and what parses is written back as it is read.
///
/// # Panics
/// When that does not hold.
pub fn traceparent(data: &[u8]) {
    if let Some(t) = TraceContext::parse(&text(data)) {
        assert_eq!(TraceContext::parse(&t.traceparent()).as_ref(), Some(&t));
    }
}

/// The body of a participant's failure reply: decoding never panics and the message it yields is
/// bounded, whatever the remote sent.
///
/// # Panics
/// When that does not hold.
pub fn reply_failure(data: &[u8]) {
    for kind in [StepErrorKind::Permanent, StepErrorKind::Transient] {
        let err = decode_failure(kind, data);
        assert!(
            err.message().len() <= MAX_BOUNDED_LEN,
            "bounded failure text"
        );
    }
}

/// A log event rebuilt from stored columns: never panics, and what rebuilds round-trips.
///
/// # Panics
/// When that does not hold.
pub fn log_event(data: &[u8]) {
    let mut input = FuzzInput::new(data);
    let flags = input.byte();
    let kind = text(input.short());
    let step = (flags & 1 != 0).then(|| u32::from(input.u16()));
    let attempt = (flags & 2 != 0).then(|| u32::from(input.u16()));
    let detail = (flags & 4 != 0).then(|| text(input.long()));
    let payload = (flags & 8 != 0).then(|| Bytes::copy_from_slice(input.remainder()));
    let Ok(kind) = kind.parse::<EventKind>() else {
        return;
    };
    let parts = EventParts {
        kind,
        step,
        attempt,
        detail,
        payload,
    };
    let Ok(event) = LogEvent::from_parts(parts) else {
        return;
    };
    let back = LogEvent::from_parts(event.to_parts()).expect("parts written by to_parts rebuild");
    assert_eq!(back, event);
}

/// Saga ids, idempotency keys and message ids from text: never panic, and what parses is displayed
/// as it is read.
///
/// # Panics
/// When that does not hold.
pub fn ids(data: &[u8]) {
    let s = text(data);
    if let Ok(id) = s.parse::<SagaId>() {
        assert_eq!(id.to_string().parse::<SagaId>().ok(), Some(id));
    }
    if let Ok(key) = s.parse::<IdempotencyKey>() {
        assert_eq!(key.to_string().parse::<IdempotencyKey>().ok(), Some(key));
    }
    if let Ok(id) = s.parse::<MessageId>() {
        assert_eq!(id.to_string().parse::<MessageId>().ok(), Some(id));
    }
}
