//! The two identifiers of W3C Trace Context: a 16-byte trace id and an 8-byte span id.

use std::fmt;

use crate::id::SagaId;

/// A W3C trace id: 16 bytes, never all zero, written as 32 lowercase hex digits.
///
/// A saga's trace id is its [`SagaId`]'s 16 bytes ([`from_saga`](Self::from_saga)), so every process
/// that knows the saga id (an executor after recovery, a participant that got a command without a
/// `traceparent`) computes the same one, and searching a tracing backend for the saga id without its
/// hyphens finds the saga's trace.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// A W3C span id (the `parent-id` of a `traceparent`): 8 bytes, never all zero, written as 16
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The trace id made of these bytes; `None` for all zeros (invalid in W3C Trace Context).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// The trace id of a saga: the saga id's bytes. The nil saga id, whose bytes are all zero, maps to
    /// `00…01` instead.
    #[must_use]
    pub fn from_saga(saga_id: SagaId) -> Self {
        let mut bytes = *saga_id.as_uuid().as_bytes();
        if bytes == [0; 16] {
            bytes[15] = 1;
        }
        Self(bytes)
    }

    /// A random trace id.
    #[must_use]
    pub fn random() -> Self {
        Self(nonzero(rand::random::<u128>()).to_be_bytes())
    }

    /// The 16 bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Parses exactly 32 lowercase hex digits, not all zero.
    pub(crate) fn parse(hex: &str) -> Option<Self> {
        let mut bytes = [0; 16];
        decode_hex(hex, &mut bytes)?;
        Self::from_bytes(bytes)
    }
}

impl SpanId {
    /// The span id made of these bytes; `None` for all zeros (invalid in W3C Trace Context).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// A random span id.
    #[must_use]
    pub fn random() -> Self {
        Self(nonzero(rand::random::<u64>()).to_be_bytes())
    }

    /// The 8 bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// Parses exactly 16 lowercase hex digits, not all zero.
    pub(crate) fn parse(hex: &str) -> Option<Self> {
        let mut bytes = [0; 8];
        decode_hex(hex, &mut bytes)?;
        Self::from_bytes(bytes)
    }
}

/// `n`, or 1 if it is zero (a one-in-2^64 draw that W3C forbids).
fn nonzero<T: PartialEq + From<u8>>(n: T) -> T {
    if n == T::from(0) {
        T::from(1)
    } else {
        n
    }
}

/// Decodes lowercase hex into `out`, which it must fill exactly.
pub(crate) fn decode_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    let digits = hex.as_bytes();
    if digits.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (lower_hex(pair[0])? << 4) | lower_hex(pair[1])?;
    }
    Some(())
}

/// The value of one lowercase hex digit.
const fn lower_hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// Writes `bytes` as lowercase hex.
pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saga_trace_id_is_the_saga_id_without_hyphens() {
        let saga = SagaId::new();
        let id = TraceId::from_saga(saga);
        assert_eq!(id.to_string(), saga.to_string().replace('-', ""));
        assert_eq!(TraceId::parse(&id.to_string()), Some(id));
        let nil = TraceId::from_saga(SagaId::from_uuid(uuid::Uuid::nil()));
        assert_eq!(nil.to_string(), format!("{:032x}", 1));
    }

    #[test]
    fn ids_parse_only_their_exact_lowercase_hex() {
        assert!(SpanId::parse("00f067aa0ba902b7").is_some());
        for bad in [
            "",
            "00f067aa0ba902b",
            "00f067aa0ba902b7a",
            "00F067AA0BA902B7",
        ] {
            assert_eq!(SpanId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(SpanId::parse("0000000000000000"), None);
        assert_eq!(TraceId::parse(&"0".repeat(32)), None);
        assert_eq!(SpanId::parse("00f067aa0ba902é"), None);
        assert_ne!(SpanId::random(), SpanId::random());
        assert!(TraceId::from_bytes([0; 16]).is_none());
    }
}
