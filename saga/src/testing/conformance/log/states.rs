//! Checks of the log suite: terminal and stuck sagas, listing.

use crate::id::{Direction, SagaId};
use crate::log::{ClaimRequest, ClaimTarget, ListQuery, LogError, LogEvent, SagaLog, SagaState};

use super::*;

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
