//! The [`IdempotencyStore`] conformance suite: what every store (the in-memory one, the `saga-sqlx`
//! inbox on each database) must do so that a command or event takes effect once.
//!
//! Generate one test per check with [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```
//! mod in_memory {
//!     saga::store_conformance_tests!(|| async {
//!         Some(std::sync::Arc::new(saga::participant::InMemoryIdempotencyStore::new())
//!             as std::sync::Arc<dyn saga::participant::IdempotencyStore>)
//!     });
//! }
//! ```
//!
//! Every check uses its own random scope, so checks may share one store (one table) and run in
//! parallel. Each check panics with a message naming the broken rule.

use std::time::Duration;

use bytes::Bytes;

use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::participant::{Claim, IdempotencyStore, StoredReply, MAX_STORE_KEY_LEN};
use crate::transport::ReplyStatus;

const LEASE: Duration = Duration::from_secs(3600);

/// Generates one `#[test]` per check of the [store suite](crate::testing::conformance::store), each
/// on a multi-threaded tokio runtime of its own.
///
/// The first argument is a closure returning a future of `Option<S>`, where `S` dereferences to an
/// [`IdempotencyStore`] (e.g. `Arc<dyn IdempotencyStore>`); `None` skips the check (an unreachable
/// backend). The optional second argument takes the `S` back after the check, even a failed one, and
/// returns a future that cleans up.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!($make, |_| async {});
    };
    ($make:expr, $cleanup:expr) => {
        $crate::__conformance_tests!(store, $make, $cleanup;
            a_new_key_is_acquired_once,
            scopes_are_separate,
            a_released_key_is_new_again,
            a_completed_key_returns_its_reply,
            release_after_complete_changes_nothing,
            an_expired_claim_can_be_taken_over,
            concurrent_claims_acquire_once,
            keys_are_compared_verbatim,
        );
    };
}

fn scope(check: &str) -> String {
    format!("conf-{check}-{}", uuid::Uuid::new_v4().simple())
}

fn key(step: u32) -> String {
    IdempotencyKey::new(SagaId::new(), step, Direction::Forward).to_string()
}

async fn claim(store: &dyn IdempotencyStore, scope: &str, key: &str, lease: Duration) -> Claim {
    match store.claim(scope, key, lease).await {
        Ok(claim) => claim,
        Err(e) => panic!("claim of {key:?} in {scope:?} failed: {e}"),
    }
}

/// A new key is acquired by the first claim; the next claim, while the lease holds, is in progress.
pub async fn a_new_key_is_acquired_once(store: &dyn IdempotencyStore) {
    let (s, k) = (scope("acquire"), key(0));
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::Acquired,
        "a new key is acquired"
    );
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::InProgress,
        "a claimed key is in progress for the next claimant"
    );
}

/// The same key in another scope is another key.
pub async fn scopes_are_separate(store: &dyn IdempotencyStore) {
    let (a, b, k) = (scope("scope-a"), scope("scope-b"), key(0));
    assert_eq!(claim(store, &a, &k, LEASE).await, Claim::Acquired);
    assert_eq!(
        claim(store, &b, &k, LEASE).await,
        Claim::Acquired,
        "scopes must not share keys"
    );
}

/// A claim released after a transient failure is acquired again by the next delivery.
pub async fn a_released_key_is_new_again(store: &dyn IdempotencyStore) {
    let (s, k) = (scope("release"), key(0));
    assert_eq!(claim(store, &s, &k, LEASE).await, Claim::Acquired);
    store.release(&s, &k).await.expect("release");
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::Acquired,
        "a released key is executed again"
    );
}

/// A completed key returns exactly the stored reply (status and bytes, binary and empty payloads
/// included) to every later claim.
pub async fn a_completed_key_returns_its_reply(store: &dyn IdempotencyStore) {
    let s = scope("complete");
    let replies = [
        StoredReply::new(ReplyStatus::Ok, Bytes::from_static(b"{\"reserved\":2}")),
        StoredReply::new(ReplyStatus::Rejected, Bytes::from_static(b"out of stock")),
        StoredReply::new(ReplyStatus::Ok, Bytes::new()),
        StoredReply::new(ReplyStatus::Ok, Bytes::from_static(&[0, 255, 10, 13, 0x80])),
    ];
    for (i, reply) in replies.into_iter().enumerate() {
        let k = key(u32::try_from(i).unwrap_or(u32::MAX));
        assert_eq!(claim(store, &s, &k, LEASE).await, Claim::Acquired);
        store
            .complete(&s, &k, reply.clone())
            .await
            .expect("complete");
        for _ in 0..2 {
            assert_eq!(
                claim(store, &s, &k, LEASE).await,
                Claim::Completed(reply.clone()),
                "a completed key answers with its stored reply, never runs again"
            );
        }
    }
}

/// Releasing a completed key (a late transient-failure path) keeps its reply.
pub async fn release_after_complete_changes_nothing(store: &dyn IdempotencyStore) {
    let (s, k) = (scope("release-done"), key(0));
    let reply = StoredReply::new(ReplyStatus::Ok, Bytes::from_static(b"1"));
    assert_eq!(claim(store, &s, &k, LEASE).await, Claim::Acquired);
    store
        .complete(&s, &k, reply.clone())
        .await
        .expect("complete");
    store.release(&s, &k).await.expect("release");
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::Completed(reply),
        "release must not forget a completed key"
    );
}

/// A claim whose lease expired (its claimant crashed) is taken over by the next claim.
pub async fn an_expired_claim_can_be_taken_over(store: &dyn IdempotencyStore) {
    let (s, k) = (scope("expire"), key(0));
    assert_eq!(claim(store, &s, &k, Duration::ZERO).await, Claim::Acquired);
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::Acquired,
        "an expired claim is taken over"
    );
    assert_eq!(
        claim(store, &s, &k, LEASE).await,
        Claim::InProgress,
        "and the new claim holds"
    );
}

/// Eight claims of one key in flight at once: exactly one acquires it.
pub async fn concurrent_claims_acquire_once(store: &dyn IdempotencyStore) {
    let (s, k) = (scope("race"), key(0));
    let claims = futures::future::join_all((0..8).map(|_| claim(store, &s, &k, LEASE))).await;
    let acquired = claims.iter().filter(|c| **c == Claim::Acquired).count();
    assert_eq!(
        acquired, 1,
        "exactly one concurrent claim may acquire a key: {claims:?}"
    );
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, Claim::Acquired | Claim::InProgress)),
        "the others see it in progress: {claims:?}"
    );
}

/// Keys differing only in case, or by a suffix, are different keys; a key of the longest length a store
/// must accept ([`MAX_STORE_KEY_LEN`]) works.
pub async fn keys_are_compared_verbatim(store: &dyn IdempotencyStore) {
    let s = scope("verbatim");
    let base = key(0);
    let upper = base.to_uppercase();
    let longer = format!("{base}/again");
    let long = "k".repeat(MAX_STORE_KEY_LEN);
    for k in [&base, &upper, &longer, &long] {
        assert_eq!(
            claim(store, &s, k, LEASE).await,
            Claim::Acquired,
            "{k:?} is a key of its own"
        );
    }
}
