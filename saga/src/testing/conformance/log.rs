//! The [`SagaLog`] conformance suite.
//!
//! Generate one test per check with [`log_conformance_tests!`](crate::log_conformance_tests), so a
//! failing check does not hide the ones after it:
//!
//! ```
//! mod in_memory {
//!     saga::log_conformance_tests!(|| async {
//!         Some(std::sync::Arc::new(saga::InMemoryLog::new()) as std::sync::Arc<dyn saga::SagaLog>)
//!     });
//! }
//! ```
//!
//! The closure makes the log for each check (`None` skips the check, e.g. when a backend is
//! unreachable); a log shared between checks is fine: every check uses its own random definition name,
//! so concurrent checks do not see each other's sagas. Each check panics with a message naming the
//! broken rule. [`run_all`] runs every check in one test.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::id::{Direction, SagaId};
use crate::log::{
    Append, ClaimRequest, ClaimTarget, ConflictKind, Lease, ListQuery, LogError, LogEvent, NewSaga,
    SagaLog, SagaState,
};

const LIVE: Duration = Duration::from_secs(3600);
const EXPIRED: Duration = Duration::ZERO;

fn def_name(check: &str) -> String {
    format!("conf-{check}-{}", uuid::Uuid::new_v4().simple())
}

fn new_saga(def: &str, owner: &str, ttl: Duration, data: &'static [u8]) -> NewSaga {
    NewSaga::new(SagaId::new(), def, 1, Bytes::from_static(data), owner, ttl)
}

async fn append(
    log: &dyn SagaLog,
    id: SagaId,
    version: u64,
    fence: u64,
    state: SagaState,
    events: &[LogEvent],
) -> Result<u64, LogError> {
    log.append(Append::new(
        id,
        version,
        Lease { fence },
        state,
        events,
        LIVE,
    ))
    .await
}

fn completed(step: u32) -> LogEvent {
    LogEvent::StepCompleted {
        step,
        attempt: 1,
        data: Bytes::from(format!("{{\"step\":{step}}}")),
    }
}

/// Generates one `#[test]` per check of the [log suite](crate::testing::conformance::log), each on a
/// multi-threaded tokio runtime of its own.
///
/// The first argument is a closure returning a future of `Option<S>`, where `S` dereferences to a
/// [`SagaLog`] (e.g. `Arc<dyn SagaLog>`); `None` skips the check (an unreachable backend). The optional
/// second argument is a closure taking the `S` back after the check, even a failed one, returning a
/// future that cleans up (drops tables, deletes keys).
#[macro_export]
macro_rules! log_conformance_tests {
    ($make:expr) => {
        $crate::log_conformance_tests!($make, |_| async {});
    };
    ($make:expr, $cleanup:expr) => {
        $crate::__conformance_tests!(log, $make, $cleanup;
            create_and_load,
            duplicate_create_conflicts,
            append_checks_versions,
            stale_fence_is_rejected,
            live_leases_are_not_claimed,
            terminal_sagas_are_closed,
            stuck_sagas_wait_for_an_operator,
            payloads_round_trip,
            list_filters,
            concurrent_claims_are_exclusive,
        );
    };
}

/// Runs every check in sequence (one test for the whole suite; prefer
/// [`log_conformance_tests!`](crate::log_conformance_tests)).
pub async fn run_all(log: Arc<dyn SagaLog>) {
    create_and_load(&*log).await;
    duplicate_create_conflicts(&*log).await;
    append_checks_versions(&*log).await;
    stale_fence_is_rejected(&*log).await;
    live_leases_are_not_claimed(&*log).await;
    terminal_sagas_are_closed(&*log).await;
    stuck_sagas_wait_for_an_operator(&*log).await;
    payloads_round_trip(&*log).await;
    list_filters(&*log).await;
    concurrent_claims_are_exclusive(&*log).await;
}

/// `create` stores version 1, fence 1, the owner and the `Started` record.
pub async fn create_and_load(log: &dyn SagaLog) {
    let def = def_name("create");
    let saga = new_saga(&def, "owner-a", LIVE, b"{\"n\":1}").with_deadline_at_ms(Some(42));
    let id = saga.id;
    let lease = log.create(saga).await.expect("create succeeds");
    assert_eq!(lease.fence, 1, "a new saga's fence is 1");
    let snap = log
        .load(id)
        .await
        .expect("load succeeds")
        .expect("created saga is found");
    let inst = &snap.instance;
    assert_eq!(inst.id, id);
    assert_eq!(inst.definition, def);
    assert_eq!(inst.definition_version, 1);
    assert_eq!(inst.state, SagaState::Running);
    assert_eq!(inst.version, 1, "a new saga is at version 1");
    assert_eq!(inst.fence, 1);
    assert_eq!(inst.owner.as_deref(), Some("owner-a"));
    assert_eq!(inst.deadline_at_ms, Some(42), "deadline is stored");
    assert_eq!(snap.records.len(), 1);
    assert_eq!(snap.records[0].seq, 1);
    assert_eq!(
        snap.records[0].event,
        LogEvent::Started {
            data: Bytes::from_static(b"{\"n\":1}")
        }
    );
    assert!(
        log.load(SagaId::new())
            .await
            .expect("load succeeds")
            .is_none(),
        "an unknown id loads as None"
    );
}

/// A second `create` with the same id is `Conflict { AlreadyExists }` and changes nothing.
pub async fn duplicate_create_conflicts(log: &dyn SagaLog) {
    let def = def_name("dup");
    let saga = new_saga(&def, "a", LIVE, b"1");
    let id = saga.id;
    log.create(saga.clone()).await.expect("first create");
    let err = log.create(saga).await.expect_err("second create must fail");
    assert!(
        matches!(
            err,
            LogError::Conflict {
                kind: ConflictKind::AlreadyExists,
                ..
            }
        ),
        "duplicate create gives AlreadyExists, got {err:?}"
    );
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(snap.records.len(), 1, "the failed create wrote nothing");
}

/// Appends advance the version by the number of events, atomically; a stale version conflicts; an
/// unknown id is `NotFound`.
pub async fn append_checks_versions(log: &dyn SagaLog) {
    let def = def_name("append");
    let saga = new_saga(&def, "a", LIVE, b"0");
    let id = saga.id;
    let lease = log.create(saga).await.expect("create");
    let v = append(log, id, 1, lease.fence, SagaState::Running, &[completed(0)])
        .await
        .expect("append at the current version");
    assert_eq!(v, 2);
    let v = append(
        log,
        id,
        2,
        lease.fence,
        SagaState::Compensating,
        &[
            LogEvent::StepRefused {
                step: 1,
                attempt: 1,
                error: "no stock".into(),
            },
            LogEvent::CompensationCompleted {
                step: 0,
                attempt: 1,
            },
        ],
    )
    .await
    .expect("two events in one append");
    assert_eq!(v, 4, "the version advances by the number of events");
    let err = append(log, id, 2, lease.fence, SagaState::Running, &[completed(1)])
        .await
        .expect_err("stale version must conflict");
    assert!(
        matches!(
            err,
            LogError::Conflict {
                kind: ConflictKind::VersionMismatch,
                ..
            }
        ),
        "stale version gives VersionMismatch, got {err:?}"
    );
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(snap.instance.version, 4);
    assert_eq!(snap.instance.state, SagaState::Compensating);
    let seqs: Vec<u64> = snap.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "records are in seq order");
    assert!(matches!(
        snap.records[2].event,
        LogEvent::StepRefused { step: 1, .. }
    ));
    let err = append(
        log,
        SagaId::new(),
        1,
        1,
        SagaState::Running,
        &[completed(0)],
    )
    .await
    .expect_err("unknown saga");
    assert!(
        matches!(err, LogError::NotFound { .. }),
        "unknown id gives NotFound, got {err:?}"
    );
}

/// After another executor claims an expired saga, the previous owner's appends fail with `LeaseLost`.
pub async fn stale_fence_is_rejected(log: &dyn SagaLog) {
    let def = def_name("fence");
    let saga = new_saga(&def, "a", EXPIRED, b"0");
    let id = saga.id;
    let old = log.create(saga).await.expect("create");
    let claimed = log
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
    assert_eq!(claimed.len(), 1, "an expired lease is claimable");
    let new = claimed[0].lease;
    assert!(new.fence > old.fence, "a claim increments the fence");
    assert_eq!(claimed[0].snapshot.instance.owner.as_deref(), Some("b"));
    assert_eq!(
        claimed[0].snapshot.records.len(),
        1,
        "claim returns the records"
    );
    let err = append(log, id, 1, old.fence, SagaState::Running, &[completed(0)])
        .await
        .expect_err("stale fence must conflict");
    assert!(
        matches!(
            err,
            LogError::Conflict {
                kind: ConflictKind::LeaseLost,
                ..
            }
        ),
        "stale fence gives LeaseLost, got {err:?}"
    );
    append(log, id, 1, new.fence, SagaState::Running, &[completed(0)])
        .await
        .expect("the new owner can append");
}

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

/// A terminal append releases the lease; later appends conflict; claims skip the saga.
pub async fn terminal_sagas_are_closed(log: &dyn SagaLog) {
    let def = def_name("terminal");
    let saga = new_saga(&def, "a", EXPIRED, b"0");
    let id = saga.id;
    let lease = log.create(saga).await.expect("create");
    append(
        log,
        id,
        1,
        lease.fence,
        SagaState::Completed,
        &[completed(0), LogEvent::Completed],
    )
    .await
    .expect("complete");
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(snap.instance.state, SagaState::Completed);
    assert_eq!(snap.instance.owner, None, "a terminal saga has no owner");
    let err = append(log, id, 3, lease.fence, SagaState::Running, &[completed(1)])
        .await
        .expect_err("terminal saga takes no appends");
    assert!(
        matches!(err, LogError::Conflict { .. }),
        "append to a finished saga conflicts, got {err:?}"
    );
    for target in [
        ClaimTarget::Recoverable {
            limit: 10,
            after: None,
        },
        ClaimTarget::One(id),
    ] {
        let claimed = log
            .claim(ClaimRequest::new(&def, 1, "b", LIVE, target))
            .await
            .expect("claim")
            .claimed;
        assert!(claimed.is_empty(), "terminal sagas are never claimed");
    }
}

/// Stuck sagas are not picked up by recovery but can be claimed by id for an operator action.
pub async fn stuck_sagas_wait_for_an_operator(log: &dyn SagaLog) {
    let def = def_name("stuck");
    let saga = new_saga(&def, "a", LIVE, b"0");
    let id = saga.id;
    let lease = log.create(saga).await.expect("create");
    append(
        log,
        id,
        1,
        lease.fence,
        SagaState::Stuck,
        &[LogEvent::Stuck {
            step: 0,
            direction: Direction::Compensate,
            error: "refund service gone".into(),
        }],
    )
    .await
    .expect("park");
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(snap.instance.state, SagaState::Stuck);
    assert_eq!(snap.instance.owner, None, "stuck releases the lease");
    let recoverable = log
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
    assert!(recoverable.is_empty(), "recovery skips stuck sagas");
    let one = log
        .claim(ClaimRequest::new(&def, 1, "op", LIVE, ClaimTarget::One(id)))
        .await
        .expect("claim one")
        .claimed;
    assert_eq!(one.len(), 1, "an operator can claim a stuck saga by id");
    append(
        log,
        id,
        2,
        one[0].lease.fence,
        SagaState::Resolved,
        &[LogEvent::OperatorResolved {
            note: "refunded by hand".into(),
        }],
    )
    .await
    .expect("resolve");
}

/// Binary, large and non-ASCII payloads come back byte for byte.
pub async fn payloads_round_trip(log: &dyn SagaLog) {
    let def = def_name("payload");
    let binary: Vec<u8> = (0..=255u8).cycle().take(256 * 400).collect();
    let saga = NewSaga::new(
        SagaId::new(),
        &def,
        1,
        Bytes::from(binary.clone()),
        "a",
        LIVE,
    );
    let id = saga.id;
    let lease = log.create(saga).await.expect("create");
    let events = [
        LogEvent::StepRetrying {
            step: 0,
            attempt: 1,
            error: "接続が切れました: 'quoted' \"double\" \\ ; DROP TABLE x".into(),
        },
        LogEvent::Aborted {
            reason: crate::log::AbortReason::Cancelled,
            steps: 1,
        },
    ];
    append(log, id, 1, lease.fence, SagaState::Compensating, &events)
        .await
        .expect("append");
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(
        snap.records[0].event,
        LogEvent::Started {
            data: Bytes::from(binary)
        },
        "binary payload round-trips"
    );
    assert_eq!(snap.records[1].event, events[0], "text round-trips");
    assert_eq!(snap.records[2].event, events[1]);
    assert!(
        snap.records.iter().all(|r| r.at_ms > 0),
        "records carry a time"
    );
}

/// `list` filters by definition and state, oldest first, up to the limit.
pub async fn list_filters(log: &dyn SagaLog) {
    let def = def_name("list");
    let mut ids = Vec::new();
    for i in 0..3 {
        let saga = new_saga(&def, "a", LIVE, b"0");
        let id = saga.id;
        let lease = log.create(saga).await.expect("create");
        if i == 1 {
            append(
                log,
                id,
                1,
                lease.fence,
                SagaState::Completed,
                &[LogEvent::Completed],
            )
            .await
            .expect("complete");
        }
        ids.push(id);
    }
    let running = log
        .list(ListQuery::in_states([SagaState::Running], 10).for_definition(&def))
        .await
        .expect("list");
    let got: Vec<SagaId> = running.iter().map(|i| i.id).collect();
    assert_eq!(got, vec![ids[0], ids[2]], "running sagas of the definition");
    let all = log
        .list(ListQuery::in_states([], 2).for_definition(&def))
        .await
        .expect("list");
    assert_eq!(all.len(), 2, "limit applies");
    assert_eq!(all[0].id, ids[0], "oldest first");
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
