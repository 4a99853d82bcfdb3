//! Checks of the log suite: creates, appends (versions, fences) and payloads.

use bytes::Bytes;

use crate::id::SagaId;
use crate::log::{
    ClaimRequest, ClaimTarget, ConflictKind, LogError, LogEvent, NewSaga, SagaLog, SagaState,
};

use super::*;

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
