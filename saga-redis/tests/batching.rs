//! Batched writes on Redis: appends of concurrent sagas share pipelines (fewer round trips than
//! writes), and a stale writer among them fails alone while its batch-mates land.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{Append, ConflictKind, Lease, NewSaga};
use saga::{LogError, LogEvent, SagaId, SagaLog, SagaState};

const TTL: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_write_fails_alone_in_its_batch() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    // One task polls all the writes before any can finish, so all but those that find a lane free
    // wait in the coalescer's queue and go out together.
    let ids: Vec<SagaId> = (0..16).map(|_| SagaId::new()).collect();
    let creates = ids.iter().map(|id| {
        log.create(NewSaga::new(
            *id,
            "batch",
            1,
            Bytes::from_static(b"{}"),
            "me",
            TTL,
        ))
    });
    for created in futures::future::join_all(creates).await {
        assert_eq!(created.expect("create").fence, 1);
    }
    let events = [LogEvent::StepCompleted {
        step: 0,
        attempt: 1,
        data: Bytes::from_static(b"{}"),
    }];
    let before = log.stats();
    let appends = ids.iter().enumerate().map(|(i, id)| {
        let fence = if i == 5 { 7 } else { 1 };
        log.append(Append::new(
            *id,
            1,
            Lease { fence },
            SagaState::Running,
            &events,
            TTL,
        ))
    });
    let results = futures::future::join_all(appends).await;
    let after = log.stats();
    for (i, r) in results.iter().enumerate() {
        if i == 5 {
            assert!(
                matches!(
                    r,
                    Err(LogError::Conflict {
                        kind: ConflictKind::LeaseLost,
                        ..
                    })
                ),
                "{r:?}"
            );
        } else {
            assert!(matches!(r, Ok(2)), "append {i}: {r:?}");
        }
    }
    let trips = after.round_trips - before.round_trips;
    assert!(trips < 16, "16 appends shared round trips: {trips}");
    assert_eq!(after.appends - before.appends, 15);
    for (i, id) in ids.iter().enumerate() {
        let s = log.load(*id).await.expect("load").expect("exists");
        assert_eq!(s.instance.version, if i == 5 { 1 } else { 2 }, "saga {i}");
    }
    common::cleanup(&log).await;
}
