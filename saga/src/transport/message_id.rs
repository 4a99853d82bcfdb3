//! Message ids.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use uuid::Uuid;

use super::TransportError;

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
            .map_err(|_| TransportError::malformed(format_args!("invalid message id {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable() {
        let p = MessageId::new();
        assert_eq!(MessageId::derive(p, "t", 1), MessageId::derive(p, "t", 1));
        assert_ne!(MessageId::derive(p, "t", 1), MessageId::derive(p, "t", 2));
        assert_ne!(MessageId::derive(p, "t", 1), MessageId::derive(p, "u", 1));
    }
}
