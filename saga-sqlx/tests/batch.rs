//! `BatchWrite::write_batch` (what the logs' batching and `GroupCommitLog` run) on every backend: a
//! batch mixing successes, each kind of conflict, a missing saga and the same saga twice gives each
//! write its own result. And through a log with default settings: concurrent appends share
//! transactions, and a stale writer among them fails alone.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{Append, ConflictKind, Lease, NewSaga};
use saga::{LogError, LogEvent, SagaId, SagaLog, SagaState};
use saga_sqlx::{BatchWrite, OwnedAppend, SqlLogConfig, SqlLogStats, WriteOp, WriteResult};

const TTL: Duration = Duration::from_secs(30);

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

fn create(id: SagaId) -> WriteOp {
    WriteOp::Create(NewSaga::new(
        id,
        "batch",
        1,
        Bytes::from_static(b"{}"),
        "me",
        TTL,
    ))
}

fn step(step: u32) -> LogEvent {
    LogEvent::StepCompleted {
        step,
        attempt: 1,
        data: Bytes::from(format!("{{\"step\":{step}}}")),
    }
}

fn append(id: SagaId, expected: u64, fence: u64, state: SagaState, events: &[LogEvent]) -> WriteOp {
    WriteOp::Append(OwnedAppend::from_append(&Append::new(
        id,
        expected,
        Lease { fence },
        state,
        events,
        TTL,
    )))
}

fn conflict(r: &WriteResult) -> Option<ConflictKind> {
    match r {
        Err(LogError::Conflict { kind, .. }) => Some(*kind),
        _ => None,
    }
}

async fn contract<L: BatchWrite>(log: L) {
    let ids: Vec<SagaId> = (0..5).map(|_| SagaId::new()).collect();
    let created = log
        .write_batch(&ids.iter().map(|id| create(*id)).collect::<Vec<_>>())
        .await;
    assert!(created.iter().all(|r| matches!(r, Ok(1))), "{created:?}");
    // Saga 3 is finished by a first batch.
    let done = log
        .write_batch(&[append(ids[3], 1, 1, SagaState::Completed, &[step(0)])])
        .await;
    assert!(matches!(done[0], Ok(2)), "{done:?}");

    let unknown = SagaId::new();
    let two = [step(0), step(1)];
    // Text and bytes that would break a naively quoted statement.
    let odd = [
        LogEvent::StepRetrying {
            step: 0,
            attempt: 1,
            error: "it's \\ \"odd\"; -- é".into(),
        },
        LogEvent::StepCompleted {
            step: 0,
            attempt: 2,
            data: Bytes::from_static(b"'\\\0\x00\xff"),
        },
    ];
    let results = log
        .write_batch(&[
            append(ids[0], 1, 1, SagaState::Running, &two),
            append(ids[1], 7, 1, SagaState::Running, &[step(0)]),
            append(ids[2], 1, 9, SagaState::Running, &[step(0)]),
            append(ids[3], 2, 1, SagaState::Running, &[step(1)]),
            create(ids[4]),
            append(unknown, 1, 1, SagaState::Running, &[step(0)]),
            // The same saga again: must see the first append of this batch.
            append(ids[0], 3, 1, SagaState::Completed, &[step(2)]),
            append(ids[4], 1, 1, SagaState::Running, &odd),
        ])
        .await;
    assert!(matches!(results[0], Ok(3)), "{results:?}");
    assert_eq!(conflict(&results[1]), Some(ConflictKind::VersionMismatch));
    assert_eq!(conflict(&results[2]), Some(ConflictKind::LeaseLost));
    assert_eq!(conflict(&results[3]), Some(ConflictKind::Finished));
    assert_eq!(conflict(&results[4]), Some(ConflictKind::AlreadyExists));
    assert!(
        matches!(results[5], Err(LogError::NotFound { saga_id }) if saga_id == unknown),
        "{results:?}"
    );
    assert!(matches!(results[6], Ok(4)), "{results:?}");
    assert!(matches!(results[7], Ok(3)), "{results:?}");

    let first = log.load(ids[0]).await.expect("load").expect("exists");
    assert_eq!(first.instance.version, 4);
    assert_eq!(first.instance.state, SagaState::Completed);
    let seqs: Vec<u64> = first.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(first.records[1].event, step(0));
    assert_eq!(first.records[2].event, step(1));
    assert_eq!(first.records[3].event, step(2));
    let fifth = log.load(ids[4]).await.expect("load").expect("exists");
    assert_eq!(fifth.records[1].event, odd[0]);
    assert_eq!(fifth.records[2].event, odd[1]);
    for (id, version) in [(ids[1], 1), (ids[2], 1), (ids[3], 2), (ids[4], 3)] {
        let s = log.load(id).await.expect("load").expect("exists");
        assert_eq!(s.instance.version, version, "saga {id}");
        assert_eq!(s.records.len() as u64, version, "saga {id}");
    }
    assert!(log.load(unknown).await.expect("load").is_none());
}

/// 16 sagas, then one append each, all at once through the log's own batching (a single task polls
/// them all before any can finish, so all but the writes that find a lane free wait in its queue);
/// the 6th carries a stale fence.
async fn stale_write_fails_alone<L: SagaLog>(log: &L, stats: impl Fn() -> SqlLogStats) {
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
    let events = [step(0)];
    let before = stats().commits;
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
    let commits = stats().commits - before;
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
    assert!(
        commits < 16,
        "16 appends shared transactions: {commits} commits"
    );
    for (i, id) in ids.iter().enumerate() {
        let s = log.load(*id).await.expect("load").expect("exists");
        assert_eq!(s.instance.version, if i == 5 { 1 } else { 2 }, "saga {i}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stale_write_fails_alone_in_its_batch() {
    if let Some(log) = common::postgres(config()).await {
        stale_write_fails_alone(&log, || log.stats()).await;
        log.drop_tables().await.expect("drop");
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_stale_write_fails_alone_in_its_batch() {
    if let Some(log) = common::mysql(config()).await {
        stale_write_fails_alone(&log, || log.stats()).await;
        log.drop_tables().await.expect("drop");
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stale_write_fails_alone_in_its_batch() {
    let (log, _dir) = common::sqlite(config()).await;
    stale_write_fails_alone(&log, || log.stats()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batch_results_are_per_write() {
    if let Some(log) = common::postgres(config()).await {
        contract(log.clone()).await;
        log.drop_tables().await.expect("drop");
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_batch_results_are_per_write() {
    if let Some(log) = common::mysql(config()).await {
        contract(log.clone()).await;
        log.drop_tables().await.expect("drop");
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_batch_results_are_per_write() {
    let (log, _dir) = common::sqlite(config()).await;
    contract(log).await;
}
