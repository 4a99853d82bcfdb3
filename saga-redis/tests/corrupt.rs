//! Sagas damaged from outside the log (raw `HSET`s and list writes): `load` reports
//! `LogError::Corrupt`, claims report them in `ClaimBatch::corrupt` without taking their lease, and
//! the good sagas beside them are still claimed. Nothing panics.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{ClaimBatch, ClaimRequest, ClaimTarget, ListQuery, NewSaga};
use saga::{LogError, SagaId, SagaLog, SagaState};
use saga_redis::{redis, RedisSagaLog};

const LIVE: Duration = Duration::from_secs(3600);

/// A log, a definition name, and `n` sagas of it whose creator's lease has already expired.
async fn setup(n: usize) -> Option<(RedisSagaLog, String, Vec<SagaId>)> {
    let log = common::log(common::config()).await?;
    let def = format!("corrupt-{}", uuid::Uuid::new_v4().simple());
    let mut ids = Vec::new();
    for _ in 0..n {
        let saga = NewSaga::new(
            SagaId::new(),
            &def,
            1,
            Bytes::from_static(b"{}"),
            "dead",
            Duration::ZERO,
        );
        ids.push(saga.id);
        log.create(saga).await.expect("create");
    }
    Some((log, def, ids))
}

async fn claim(log: &RedisSagaLog, def: &str, target: ClaimTarget) -> ClaimBatch {
    log.claim(ClaimRequest::new(def, 1, "claimant", LIVE, target))
        .await
        .expect("a damaged saga never fails the claim")
}

fn all() -> ClaimTarget {
    ClaimTarget::Recoverable {
        limit: 100,
        after: None,
    }
}

async fn hset(key: &str, field: &str, value: &[u8]) {
    let mut conn = common::raw().await;
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg(field)
        .arg(value)
        .query_async(&mut conn)
        .await
        .expect("hset");
}

async fn hget(key: &str, field: &str) -> Option<String> {
    let mut conn = common::raw().await;
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(&mut conn)
        .await
        .expect("hget")
}

/// Checks the damaged saga `bad` is reported by load, by both claim targets, and keeps its lease
/// untouched (fence 1, owner "dead"), while `good` sagas are claimed; then cleans up.
async fn reported_not_leased(log: RedisSagaLog, def: &str, bad: SagaId, good: &[SagaId]) {
    let err = log
        .load(bad)
        .await
        .expect_err("load of a damaged saga fails");
    assert!(
        matches!(err, LogError::Corrupt { saga_id, .. } if saga_id == bad),
        "{err:?}"
    );
    let batch = claim(&log, def, all()).await;
    let claimed: Vec<SagaId> = batch
        .claimed
        .iter()
        .map(|c| c.snapshot.instance.id)
        .collect();
    assert_eq!(claimed, good, "the good sagas are claimed, in id order");
    assert_eq!(batch.corrupt.len(), 1, "{:?}", batch.corrupt);
    assert_eq!(batch.corrupt[0].id, bad);
    assert!(!batch.corrupt[0].reason.is_empty());
    assert_eq!(batch.last_id(), good.iter().copied().chain([bad]).max());
    let one = claim(&log, def, ClaimTarget::One(bad)).await;
    assert!(one.claimed.is_empty());
    assert_eq!(
        one.corrupt.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![bad]
    );
    let inst = common::saga_key(log.key_prefix(), bad, "inst").await;
    if key_type(&inst).await == "hash" {
        assert_eq!(
            hget(&inst, "owner").await.as_deref(),
            Some("dead"),
            "no lease taken on a damaged saga"
        );
    }
    common::cleanup(&log).await;
}

async fn key_type(key: &str) -> String {
    let mut conn = common::raw().await;
    redis::cmd("TYPE")
        .arg(key)
        .query_async(&mut conn)
        .await
        .expect("type")
}

fn sorted(mut ids: Vec<SagaId>) -> Vec<SagaId> {
    ids.sort();
    ids
}

#[tokio::test]
async fn a_record_that_does_not_decode() {
    let Some((log, def, ids)) = setup(3).await else {
        return;
    };
    let _guard = common::guard(&log);
    let rec = common::saga_key(log.key_prefix(), ids[1], "rec").await;
    let mut conn = common::raw().await;
    let _: () = redis::cmd("LSET")
        .arg(&rec)
        .arg(0)
        .arg(b"1700000000000:\x01garbage".as_slice())
        .query_async(&mut conn)
        .await
        .expect("lset");
    let good = sorted(vec![ids[0], ids[2]]);
    reported_not_leased(log, &def, ids[1], &good).await;
}

#[tokio::test]
async fn a_record_too_many() {
    let Some((log, def, ids)) = setup(2).await else {
        return;
    };
    let _guard = common::guard(&log);
    let rec = common::saga_key(log.key_prefix(), ids[0], "rec").await;
    let mut conn = common::raw().await;
    let first: Vec<u8> = redis::cmd("LINDEX")
        .arg(&rec)
        .arg(0)
        .query_async(&mut conn)
        .await
        .expect("lindex");
    let _: () = redis::cmd("RPUSH")
        .arg(&rec)
        .arg(first)
        .query_async(&mut conn)
        .await
        .expect("rpush");
    reported_not_leased(log, &def, ids[0], &[ids[1]]).await;
}

#[tokio::test]
async fn instance_fields_that_do_not_decode() {
    for (field, value) in [
        ("fence", b"abc".as_slice()),
        ("state", b"exploded"),
        ("version", b"-3"),
        ("lease_until", b"soon"),
        ("owner", b"\xff\xfe"),
        ("created", b""),
    ] {
        let Some((log, def, ids)) = setup(2).await else {
            return;
        };
        let _guard = common::guard(&log);
        let inst = common::saga_key(log.key_prefix(), ids[0], "inst").await;
        hset(&inst, field, value).await;
        if field == "owner" {
            // The owner itself is damaged, so the no-lease check compares nothing: check the rest.
            let err = log.load(ids[0]).await.expect_err("corrupt owner");
            assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
            let batch = claim(&log, &def, all()).await;
            assert_eq!(batch.corrupt.len(), 1, "owner: {:?}", batch.corrupt);
            assert_eq!(batch.claimed.len(), 1);
            common::cleanup(&log).await;
            continue;
        }
        reported_not_leased(log, &def, ids[0], &[ids[1]]).await;
    }
}

#[tokio::test]
async fn a_key_of_the_wrong_type() {
    let Some((log, def, ids)) = setup(2).await else {
        return;
    };
    let _guard = common::guard(&log);
    let inst = common::saga_key(log.key_prefix(), ids[1], "inst").await;
    let mut conn = common::raw().await;
    let _: () = redis::cmd("DEL")
        .arg(&inst)
        .query_async(&mut conn)
        .await
        .expect("del");
    let _: () = redis::cmd("SET")
        .arg(&inst)
        .arg("not a hash")
        .query_async(&mut conn)
        .await
        .expect("set");
    let err = log
        .list(ListQuery::in_states([SagaState::Running], 10).for_definition(&def))
        .await
        .expect_err("list reports the damaged saga");
    assert!(
        matches!(err, LogError::Corrupt { saga_id, .. } if saga_id == ids[1]),
        "{err:?}"
    );
    reported_not_leased(log, &def, ids[1], &[ids[0]]).await;
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Empty {}

#[tokio::test]
async fn recovery_reports_a_damaged_saga_and_finishes_the_others() {
    let Some((log, def, ids)) = setup(3).await else {
        return;
    };
    let _guard = common::guard(&log);
    let rec = common::saga_key(log.key_prefix(), ids[0], "rec").await;
    let mut conn = common::raw().await;
    let _: () = redis::cmd("RPUSH")
        .arg(&rec)
        .arg("not a record")
        .query_async(&mut conn)
        .await
        .expect("rpush");
    let definition = saga::SagaDefinition::<Empty>::builder(&def, 1)
        .retriable(
            "only",
            saga::step_fn(|_: saga::StepContext, d: Empty| async move { Ok(d) }),
        )
        .build()
        .expect("valid");
    let executor = saga::Executor::new(definition, std::sync::Arc::new(log.clone()));
    let report = executor.recover().await.expect("recover");
    assert_eq!(report.completed, 2, "{report:?}");
    assert_eq!(
        report.corrupt.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    for id in &ids[1..] {
        let snap = log.load(*id).await.expect("load").expect("exists");
        assert_eq!(snap.instance.state, SagaState::Completed);
    }
    let inst = common::saga_key(log.key_prefix(), ids[0], "inst").await;
    assert_eq!(hget(&inst, "owner").await.as_deref(), Some("dead"));
    common::cleanup(&log).await;
}
