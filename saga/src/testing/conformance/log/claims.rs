//! Checks of the log suite: claims (live leases, exclusive concurrent claims).

use std::collections::HashSet;

use crate::id::SagaId;
use crate::log::{ClaimRequest, ClaimTarget, SagaLog};

use super::*;

/// A live lease is not claimed by others, but is by its own owner (a restarted executor with a stable
/// id), without a fence change; sagas of other definitions or versions are never claimed.
pub async fn live_leases_are_not_claimed(log: &dyn SagaLog) {
    let def = def_name("live");
    let saga = new_saga(&def, "a", LIVE, b"0");
    let id = saga.id;
    log.create(saga).await.expect("create");
    let other = def_name("other");
    log.create(new_saga(&other, "a", EXPIRED, b"0"))
        .await
        .expect("create");
    let by_b = log
        .claim(ClaimRequest::new(
            &def,
            1,
            "b",
            LIVE,
            ClaimTarget::Recoverable {
                limit: 10,
                after: None,
            },
        ))
        .await
        .expect("claim")
        .claimed;
    assert!(
        by_b.is_empty(),
        "a live lease must not be claimed by another owner"
    );
    let one_by_b = log
        .claim(ClaimRequest::new(&def, 1, "b", LIVE, ClaimTarget::One(id)))
        .await
        .expect("claim one")
        .claimed;
    assert!(one_by_b.is_empty(), "nor by id");
    let by_other_version = log
        .claim(ClaimRequest::new(
            &def,
            2,
            "a",
            LIVE,
            ClaimTarget::Recoverable {
                limit: 10,
                after: None,
            },
        ))
        .await
        .expect("claim")
        .claimed;
    assert!(
        by_other_version.is_empty(),
        "claims filter on definition version"
    );
    let by_a = log
        .claim(ClaimRequest::new(
            &def,
            1,
            "a",
            LIVE,
            ClaimTarget::Recoverable {
                limit: 10,
                after: None,
            },
        ))
        .await
        .expect("claim")
        .claimed;
    assert_eq!(by_a.len(), 1, "the owner itself may reclaim");
    assert_eq!(by_a[0].snapshot.instance.id, id);
    assert_eq!(
        by_a[0].lease.fence, 1,
        "reclaiming one's own saga keeps the fence"
    );
}

/// Four executors claiming at once never get the same saga, and together get all of them.
pub async fn concurrent_claims_are_exclusive(log: &dyn SagaLog) {
    let def = def_name("race");
    let mut ids = HashSet::new();
    for _ in 0..40 {
        let saga = new_saga(&def, "dead", EXPIRED, b"0");
        ids.insert(saga.id);
        log.create(saga).await.expect("create");
    }
    // Four claimers in flight at once on this task: their queries overlap at the backend.
    let claimer = |w: usize| {
        let def = def.clone();
        async move {
            let mut mine = Vec::new();
            let mut after = None;
            loop {
                let got = log
                    .claim(ClaimRequest::new(
                        &def,
                        1,
                        format!("worker-{w}"),
                        LIVE,
                        ClaimTarget::Recoverable { limit: 3, after },
                    ))
                    .await
                    .expect("claim")
                    .claimed;
                if got.is_empty() {
                    return mine;
                }
                let ids: Vec<SagaId> = got.iter().map(|c| c.snapshot.instance.id).collect();
                assert!(
                    ids.windows(2).all(|w| w[0] < w[1]),
                    "claims come in id order"
                );
                after = ids.last().copied();
                mine.extend(ids);
            }
        }
    };
    let all = futures::future::join_all((0..4).map(claimer)).await;
    let mut seen = HashSet::new();
    for id in all.into_iter().flatten() {
        assert!(seen.insert(id), "saga {id} was claimed twice");
    }
    assert_eq!(seen, ids, "every expired saga was claimed exactly once");
}
