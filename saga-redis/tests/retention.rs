//! Finished sagas expire: their keys get the configured retention as a TTL and they leave the
//! recoverable index; unfinished and stuck sagas never expire; `list` of terminal states tolerates
//! sagas whose keys are gone, and their index entries are pruned.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{Append, ClaimRequest, ClaimTarget, Lease, ListQuery, NewSaga};
use saga::{Direction, LogEvent, SagaId, SagaLog, SagaState};
use saga_redis::{redis, RedisSagaLog};

const LIVE: Duration = Duration::from_secs(3600);
const RETENTION: Duration = Duration::from_secs(600);

async fn new_saga(log: &RedisSagaLog, def: &str) -> SagaId {
    let saga = NewSaga::new(SagaId::new(), def, 1, Bytes::from_static(b"{}"), "a", LIVE);
    let id = saga.id;
    log.create(saga).await.expect("create");
    id
}

async fn finish(log: &RedisSagaLog, id: SagaId, state: SagaState, event: LogEvent) {
    log.append(Append::new(
        id,
        1,
        Lease { fence: 1 },
        state,
        &[event],
        LIVE,
    ))
    .await
    .expect("append");
}

async fn pttl(key: &str) -> i64 {
    let mut conn = common::raw().await;
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .expect("pttl")
}

/// The members of the key under `prefix` ending in `suffix`.
async fn members(prefix: &str, suffix: &str) -> Vec<String> {
    let mut conn = common::raw().await;
    let mut out = Vec::new();
    for key in common::keys_under(prefix).await {
        if key.ends_with(suffix) {
            let got: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .expect("zrange");
            out.extend(got);
        }
    }
    out
}

fn def() -> String {
    format!("retention-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn finished_sagas_get_a_ttl_and_leave_the_recoverable_index() {
    let Some(log) = common::log(common::config().with_retention(Some(RETENTION))).await else {
        return;
    };
    let _guard = common::guard(&log);
    let def = def();
    let (done, running, stuck) = (
        new_saga(&log, &def).await,
        new_saga(&log, &def).await,
        new_saga(&log, &def).await,
    );
    finish(&log, done, SagaState::Completed, LogEvent::Completed).await;
    let parked = LogEvent::Stuck {
        step: 0,
        direction: Direction::Compensate,
        error: "x".into(),
    };
    finish(&log, stuck, SagaState::Stuck, parked).await;
    let p = log.key_prefix().to_owned();
    for suffix in ["inst", "rec"] {
        let ttl = pttl(&common::saga_key(&p, done, suffix).await).await;
        let max = i64::try_from(RETENTION.as_millis()).expect("fits");
        assert!(
            ttl > max - 60_000 && ttl <= max,
            "{suffix} of a finished saga: pttl {ttl}"
        );
        for open in [running, stuck] {
            let ttl = pttl(&common::saga_key(&p, open, suffix).await).await;
            assert_eq!(ttl, -1, "{suffix} of an unfinished saga never expires");
        }
    }
    let recoverable = members(&p, &format!(":recoverable:1:{def}")).await;
    assert_eq!(
        recoverable,
        vec![running.to_string()],
        "only the running saga is recoverable"
    );
    assert_eq!(
        members(&p, &format!(":state:completed:{def}")).await,
        vec![done.to_string()]
    );
    assert_eq!(
        members(&p, &format!(":state:stuck:{def}")).await,
        vec![stuck.to_string()]
    );
    let claim = ClaimRequest::new(
        &def,
        1,
        "a",
        LIVE,
        ClaimTarget::Recoverable {
            limit: 10,
            after: None,
        },
    );
    let claimed = log.claim(claim).await.expect("claim").claimed;
    let ids: Vec<SagaId> = claimed.iter().map(|c| c.snapshot.instance.id).collect();
    assert_eq!(ids, vec![running]);
    common::cleanup(&log).await;
}

#[tokio::test]
async fn without_retention_finished_sagas_stay() {
    let Some(log) = common::log(common::config().with_retention(None)).await else {
        return;
    };
    let _guard = common::guard(&log);
    let def = def();
    let id = new_saga(&log, &def).await;
    finish(&log, id, SagaState::Compensated, LogEvent::Compensated).await;
    let p = log.key_prefix().to_owned();
    assert_eq!(pttl(&common::saga_key(&p, id, "inst").await).await, -1);
    let snap = log.load(id).await.expect("load").expect("kept");
    assert_eq!(snap.instance.state, SagaState::Compensated);
    common::cleanup(&log).await;
}

#[tokio::test]
async fn list_tolerates_expired_sagas_and_their_entries_are_pruned() {
    // One shard: pruning is per shard, by the sagas finishing there.
    let config = common::config()
        .with_retention(Some(RETENTION))
        .with_shards(1);
    let Some(log) = common::log(config).await else {
        return;
    };
    let _guard = common::guard(&log);
    let def = def();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_saga(&log, &def).await);
    }
    ids.sort();
    for &id in &ids[..2] {
        finish(&log, id, SagaState::Completed, LogEvent::Completed).await;
    }
    // The first saga's keys expire (removed by hand: the same as far as readers can tell).
    let p = log.key_prefix().to_owned();
    let gone = ids[0];
    let mut conn = common::raw().await;
    for suffix in ["inst", "rec"] {
        let key = common::saga_key(&p, gone, suffix).await;
        let _: () = redis::cmd("UNLINK")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("unlink");
    }
    let query = ListQuery::in_states([SagaState::Completed], 10).for_definition(&def);
    let listed: Vec<SagaId> = log
        .list(query.clone())
        .await
        .expect("list")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, vec![ids[1]], "the expired saga is left out");
    let all: Vec<SagaId> = log
        .list(ListQuery::in_states([SagaState::Completed], 10))
        .await
        .expect("list")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all, vec![ids[1]], "also without a definition filter");
    assert!(log.load(gone).await.expect("load").is_none());
    // Its expiry time passes: the next saga to finish prunes its index entries.
    for key in common::keys_under(&p).await {
        if key.contains(":expiry:completed") {
            let _: () = redis::cmd("ZADD")
                .arg(&key)
                .arg("XX")
                .arg(1)
                .arg(gone.to_string())
                .query_async(&mut conn)
                .await
                .expect("zadd");
        }
    }
    finish(&log, ids[2], SagaState::Completed, LogEvent::Completed).await;
    for suffix in [
        ":state:completed".to_owned(),
        format!(":state:completed:{def}"),
    ] {
        let mut left = members(&p, &suffix).await;
        left.sort();
        assert!(!left.contains(&gone.to_string()), "{suffix}: {left:?}");
    }
    let listed: Vec<SagaId> = log
        .list(query)
        .await
        .expect("list")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, vec![ids[1], ids[2]]);
    for key in common::keys_under(&p).await {
        if key.contains(":state:completed") || key.contains(":expiry:completed") {
            assert!(pttl(&key).await > 0, "{key} expires with its last member");
        }
    }
    common::cleanup(&log).await;
}
