//! Deduplication: the [`IdempotencyStore`] trait and its in-memory implementation.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::step::BoxError;
use crate::transport::ReplyStatus;

/// The reply recorded for an executed command (or the marker of a handled event), re-sent verbatim to a
/// duplicate instead of executing it again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredReply {
    /// `Ok` or `Rejected` (transient failures are not recorded: they may be retried).
    pub status: ReplyStatus,
    /// The encoded reply (or failure body).
    pub payload: Bytes,
}

impl StoredReply {
    /// A stored reply.
    #[must_use]
    pub const fn new(status: ReplyStatus, payload: Bytes) -> Self {
        Self { status, payload }
    }
}

/// The answer to [`IdempotencyStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// New key: the caller executes it, then calls `complete` or `release`.
    Acquired,
    /// Another delivery of the same key is executing now (its lease has not expired): skip this one.
    InProgress,
    /// Already executed: re-send this reply, do not execute again.
    Completed(StoredReply),
}

/// A failure of an [`IdempotencyStore`] backend.
#[derive(Debug, thiserror::Error)]
#[error("idempotency store error: {message}")]
pub struct StoreError {
    message: String,
    transient: bool,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// A transient store failure (the message is redelivered later).
    #[must_use]
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
            source: None,
        }
    }

    /// A permanent store failure.
    #[must_use]
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
            source: None,
        }
    }

    /// Keeps the backend error as `source()`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether retrying may succeed.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        self.transient
    }
}

/// The longest scope and key, in characters, every [`IdempotencyStore`] must accept (the SQL inbox's
/// indexed columns on MySQL/MariaDB hold 190). Idempotency keys (`{saga id}/{step}/{direction}`) are
/// about 50 characters; event keys are message ids.
pub const MAX_STORE_KEY_LEN: usize = 190;

/// Where a participant records the idempotency keys it executed and the replies it sent, so every
/// command (and event) takes effect once although delivery is at-least-once.
///
/// The contract, checked by [`crate::testing::conformance::store`]: a new key is acquired by exactly
/// one claim (also under concurrency) and is "in progress" for others while its lease holds; an expired
/// claim is taken over; `release` makes a claimed key new again but never forgets a completed one; a
/// completed key answers every later claim with its stored reply, byte for byte; scopes are separate;
/// keys are compared verbatim (case-sensitive) up to [`MAX_STORE_KEY_LEN`] characters.
///
/// Keys live in a `scope` (the participant's name for commands, `"{participant}/{topic}"` for events), so
/// one store can serve several participants. A durable implementation (the `saga-sqlx` inbox) keeps
/// claims with their lease expiry so a claim left behind by a crashed process can be taken over; for
/// effects in the same database, it can record the key in the handler's own transaction.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Looks the key up and, if it is new (or its in-progress claim's lease expired), claims it for
    /// `lease`.
    async fn claim(&self, scope: &str, key: &str, lease: Duration) -> Result<Claim, StoreError>;

    /// Records the reply of a claimed key; later claims return [`Claim::Completed`] with it.
    async fn complete(&self, scope: &str, key: &str, reply: StoredReply) -> Result<(), StoreError>;

    /// Drops a claim whose execution failed transiently, so a redelivery executes it again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

enum Slot {
    Claimed { until: Instant },
    Done(StoredReply),
}

/// An [`IdempotencyStore`] in memory (lost on restart; it grows with every key, so it suits tests and
/// single-process deployments whose sagas are short-lived).
#[derive(Default)]
pub struct InMemoryIdempotencyStore {
    scopes: Mutex<HashMap<String, HashMap<String, Slot>>>,
}

impl std::fmt::Debug for InMemoryIdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryIdempotencyStore")
            .field("keys", &self.len())
            .finish()
    }
}

impl InMemoryIdempotencyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys held (claimed or completed) across all scopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.scopes.lock().values().map(HashMap::len).sum()
    }

    /// `true` if no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored reply of a completed key.
    #[must_use]
    pub fn get(&self, scope: &str, key: &str) -> Option<StoredReply> {
        match self.scopes.lock().get(scope)?.get(key)? {
            Slot::Done(reply) => Some(reply.clone()),
            Slot::Claimed { .. } => None,
        }
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, scope: &str, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let now = Instant::now();
        let until = now + lease;
        let mut scopes = self.scopes.lock();
        let keys = match scopes.get_mut(scope) {
            Some(keys) => keys,
            None => scopes.entry(scope.to_owned()).or_default(),
        };
        match keys.get_mut(key) {
            Some(Slot::Done(reply)) => Ok(Claim::Completed(reply.clone())),
            Some(Slot::Claimed { until: held }) if *held > now => Ok(Claim::InProgress),
            Some(slot) => {
                *slot = Slot::Claimed { until };
                Ok(Claim::Acquired)
            }
            None => {
                keys.insert(key.to_owned(), Slot::Claimed { until });
                Ok(Claim::Acquired)
            }
        }
    }

    async fn complete(&self, scope: &str, key: &str, reply: StoredReply) -> Result<(), StoreError> {
        self.scopes
            .lock()
            .entry(scope.to_owned())
            .or_default()
            .insert(key.to_owned(), Slot::Done(reply));
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let mut scopes = self.scopes.lock();
        if let Some(keys) = scopes.get_mut(scope) {
            if matches!(keys.get(key), Some(Slot::Claimed { .. })) {
                keys.remove(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn claims_complete_and_expire() {
        let store = InMemoryIdempotencyStore::new();
        let lease = Duration::from_secs(5);
        assert_eq!(
            store.claim("p", "k", lease).await.ok(),
            Some(Claim::Acquired)
        );
        assert_eq!(
            store.claim("p", "k", lease).await.ok(),
            Some(Claim::InProgress)
        );
        assert_eq!(
            store.claim("q", "k", lease).await.ok(),
            Some(Claim::Acquired)
        );
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(
            store.claim("p", "k", lease).await.ok(),
            Some(Claim::Acquired)
        );
        let reply = StoredReply::new(ReplyStatus::Ok, Bytes::from_static(b"1"));
        store
            .complete("p", "k", reply.clone())
            .await
            .expect("complete");
        store
            .release("p", "k")
            .await
            .expect("release is a no-op once done");
        assert_eq!(
            store.claim("p", "k", lease).await.ok(),
            Some(Claim::Completed(reply))
        );
        store.release("q", "k").await.expect("release");
        assert_eq!(
            store.claim("q", "k", lease).await.ok(),
            Some(Claim::Acquired)
        );
    }
}
