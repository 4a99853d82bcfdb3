//! Writes to sagas damaged from outside the log fail with `LogError::Corrupt` and write nothing: the
//! scripts check every key they would write before writing, as a script's writes are not rolled back
//! when a later command in it fails.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{Append, Lease, NewSaga};
use saga::{LogError, LogEvent, SagaId, SagaLog, SagaState};
use saga_redis::redis;

const LIVE: Duration = Duration::from_secs(3600);

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

fn new_saga(def: &str) -> NewSaga {
    NewSaga::new(SagaId::new(), def, 1, Bytes::from_static(b"{}"), "a", LIVE)
}

fn def() -> String {
    format!("corrupt-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn appends_to_a_damaged_saga_fail_cleanly() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    let _guard = common::guard(&log);
    let saga = new_saga(&def());
    let ids = [saga.id];
    log.create(saga).await.expect("create");
    let inst = common::saga_key(log.key_prefix(), ids[0], "inst").await;
    hset(&inst, "version", b"one").await;
    let err = log
        .append(Append::new(
            ids[0],
            1,
            Lease { fence: 1 },
            SagaState::Running,
            &[LogEvent::Completed],
            LIVE,
        ))
        .await
        .expect_err("append to a damaged saga");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    let mut conn = common::raw().await;
    let _: () = redis::cmd("HDEL")
        .arg(&inst)
        .arg("def")
        .query_async(&mut conn)
        .await
        .expect("hdel");
    // A fresh log has no definition remembered, so the script is asked for it and finds none.
    let fresh = common::log(log.config().clone()).await.expect("second log");
    let err = fresh
        .append(Append::new(
            ids[0],
            1,
            Lease { fence: 1 },
            SagaState::Running,
            &[LogEvent::Completed],
            LIVE,
        ))
        .await
        .expect_err("append without a definition");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    common::cleanup(&log).await;
}

#[tokio::test]
async fn a_damaged_index_key_stops_a_write_before_it_starts() {
    // One shard, so the damaged sets are the ones the saga's writes touch.
    let Some(log) = common::log(common::config().with_shards(1)).await else {
        return;
    };
    let _guard = common::guard(&log);
    let def = def();
    let saga = new_saga(&def);
    let id = saga.id;
    log.create(saga).await.expect("create");
    let p = log.key_prefix().to_owned();
    let mut conn = common::raw().await;
    let set = format!("{p}:{{{p}:0}}:state:completed:{def}");
    let _: () = redis::cmd("SET")
        .arg(&set)
        .arg("not a set")
        .query_async(&mut conn)
        .await
        .expect("set");
    let err = log
        .append(Append::new(
            id,
            1,
            Lease { fence: 1 },
            SagaState::Completed,
            &[LogEvent::Completed],
            LIVE,
        ))
        .await
        .expect_err("a damaged index fails the append");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    let snap = log.load(id).await.expect("load").expect("exists");
    assert_eq!(
        (
            snap.instance.version,
            snap.instance.state,
            snap.records.len()
        ),
        (1, SagaState::Running, 1),
        "nothing was written"
    );
    let recoverable = format!("{p}:{{{p}:0}}:recoverable:1:{def}");
    let _: () = redis::cmd("SET")
        .arg(&recoverable)
        .arg("not a set")
        .query_async(&mut conn)
        .await
        .expect("set");
    let other = new_saga(&def);
    let other_id = other.id;
    let err = log
        .create(other)
        .await
        .expect_err("a damaged index fails the create");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    assert!(
        log.load(other_id).await.expect("load").is_none(),
        "nothing was written"
    );
    // A saga whose instance key is not a hash: appends are Corrupt too.
    let inst = common::saga_key(&p, id, "inst").await;
    let _: () = redis::cmd("SET")
        .arg(&inst)
        .arg("x")
        .query_async(&mut conn)
        .await
        .expect("set");
    let err = log
        .append(Append::new(
            id,
            1,
            Lease { fence: 1 },
            SagaState::Running,
            &[LogEvent::Completed],
            LIVE,
        ))
        .await
        .expect_err("a damaged instance fails the append");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    common::cleanup(&log).await;
}
