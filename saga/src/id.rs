//! Identifiers: saga ids, step directions and idempotency keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of one saga instance.
///
/// New ids are UUIDv7, so they sort by creation time, which keeps B-tree indexes of SQL logs compact.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaId(Uuid);

/// Ordered as the UUID's bytes (so by creation time for UUIDv7), compared as one 128-bit integer.
impl Ord for SagaId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_u128().cmp(&other.0.as_u128())
    }
}

impl PartialOrd for SagaId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl SagaId {
    /// A fresh, time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an existing UUID (for example an order id the caller already has).
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl Default for SagaId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SagaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for SagaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SagaId({})", self.0.hyphenated())
    }
}

/// Returned when a string is not a valid saga id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid saga id {input:?}: expected a UUID")]
pub struct ParseSagaIdError {
    input: String,
}

impl FromStr for SagaId {
    type Err = ParseSagaIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self).map_err(|_| ParseSagaIdError {
            input: s.chars().take(64).collect(),
        })
    }
}

/// Whether an execution moves the saga forward or undoes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The step's action.
    Forward,
    /// The step's compensation.
    Compensate,
}

impl Direction {
    /// `"forward"` or `"compensate"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Compensate => "compensate",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable key of one step execution: saga id + step index + direction.
///
/// It is identical across retries, redeliveries and recovery after a crash, so a participant that records
/// the keys it has applied (see the participant runtime and `saga-sqlx`'s inbox) applies each effect once
/// even though delivery is at-least-once. Its text form is `"{saga_id}/{step}/{direction}"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The saga.
    pub saga_id: SagaId,
    /// Zero-based index of the step in its definition.
    pub step: u32,
    /// Action or compensation.
    pub direction: Direction,
}

impl IdempotencyKey {
    /// Builds a key.
    #[must_use]
    pub const fn new(saga_id: SagaId, step: u32, direction: Direction) -> Self {
        Self {
            saga_id,
            step,
            direction,
        }
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.saga_id, self.step, self.direction)
    }
}

/// Returned when a string is not a valid idempotency key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid idempotency key {input:?}: expected \"<saga id>/<step>/<forward|compensate>\"")]
pub struct ParseIdempotencyKeyError {
    input: String,
}

impl FromStr for IdempotencyKey {
    type Err = ParseIdempotencyKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdempotencyKeyError {
            input: s.chars().take(128).collect(),
        };
        let mut parts = s.split('/');
        let (Some(id), Some(step), Some(dir), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let saga_id = id.parse().map_err(|_| err())?;
        let step = step.parse().map_err(|_| err())?;
        let direction = match dir {
            "forward" => Direction::Forward,
            "compensate" => Direction::Compensate,
            _ => return Err(err()),
        };
        Ok(Self::new(saga_id, step, direction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_round_trips_through_text() {
        let key = IdempotencyKey::new(SagaId::new(), 3, Direction::Compensate);
        let parsed: IdempotencyKey = key.to_string().parse().expect("valid key");
        assert_eq!(parsed, key);
        assert!("nope/1/forward".parse::<IdempotencyKey>().is_err());
        assert!(format!("{}/1/sideways", key.saga_id)
            .parse::<IdempotencyKey>()
            .is_err());
    }

    #[test]
    fn saga_ids_sort_by_creation() {
        let a = SagaId::new();
        let b = SagaId::new();
        assert!(a < b);
        let lo = SagaId::from_uuid(Uuid::from_bytes([
            0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ]));
        let hi = SagaId::from_uuid(Uuid::from_bytes([
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]));
        assert!(lo < hi, "byte order, as SQL stores compare them");
        assert_eq!(a.to_string().parse::<SagaId>().expect("valid id"), a);
    }
}
