//! Against a `redis-server` this test starts itself (append-only file with `appendfsync always` in a
//! temp dir, on a free loopback port): 1,000 sagas (10,000 with `SAGA_LONG_FAULTS=1`, or
//! `SAGA_RESTART_SAGAS=n`) in flight over Redis Streams, with the executor's `RedisSagaLog` on the same
//! server, the server killed (SIGKILL) and restarted. Subscriptions and the log reconnect by
//! themselves (the executor retries its log writes through the outage) and every saga reaches its
//! terminal state, in memory and in the log read back after the restart, with every effect applied
//! once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::server::Server;
use common::shop::{self, Ledger, Order};
use futures::StreamExt as _;
use saga::participant::{IdempotencyStore, ReplyRouter, RouterConfig};
use saga::testing::fault_scale;
use saga::transport::Transport;
use saga::{Executor, ExecutorConfig, InMemoryIdempotencyStore, RetryPolicy, SagaLog, SagaState};
use saga_redis::{RedisLogConfig, RedisSagaLog, RedisTransport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_in_flight_survive_a_server_kill_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut server) = Server::start(dir.path(), true) else {
        return;
    };
    let began = Instant::now();
    let n = fault_scale("SAGA_RESTART_SAGAS", 1000, 10_000);
    // 3 effects per shipped order, reserve, charge and their undos per refused one (one in ten).
    let effects = 3 * (n - n.div_ceil(10)) + 4 * n.div_ceil(10);
    let config = saga_redis::RedisTransportConfig::new(&server.url())
        .with_key_prefix("restart")
        .with_block_time(Duration::from_millis(500))
        .with_claim_idle(Duration::from_secs(1))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(300));
    let participants_side = RedisTransport::connect(config.clone())
        .await
        .expect("connect");
    let orchestrator_side = RedisTransport::connect(config).await.expect("connect");
    let stats = participants_side.clone();
    let (p, o): (Arc<dyn Transport>, Arc<dyn Transport>) =
        (Arc::new(participants_side), Arc::new(orchestrator_side));
    let ledger = Arc::new(Ledger::default());
    let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
    let services = shop::participants(&p, &store, &ledger, Duration::from_millis(2)).await;
    let router = ReplyRouter::start(o, RouterConfig::default().with_owner_id("restart"))
        .await
        .expect("router");
    let log_config = RedisLogConfig::default().with_key_prefix("restart-log");
    let log = RedisSagaLog::connect(&server.url(), log_config.clone())
        .await
        .expect("the log connects");
    // Log writes are retried through the outage (every 250 ms at most, for minutes).
    let executor = Executor::with_config(
        shop::definition(&router, Duration::from_secs(3), 40),
        Arc::new(log),
        ExecutorConfig::default().with_log_retry(
            RetryPolicy::default()
                .with_max_attempts(1000)
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_millis(250)),
        ),
    );
    // Started 64 at a time (a log round trip each), so the first ones do not finish meanwhile.
    let handles: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            executor.start(Order {
                amount: 1 + i % 50,
                refuse_shipping: i % 10 == 0,
            })
        })
        .buffered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|h| h.expect("start"))
        .collect();
    // Kill while the sagas are provably in flight: n/2 handler calls begun of the ≥ 3.1 n the run
    // needs.
    tokio::time::timeout(Duration::from_secs(120), ledger.started_at_least(n / 2))
        .await
        .expect("the sagas make progress before the kill");
    server.kill();
    let (at_kill, finished) = {
        let effects = ledger.effects.lock();
        let last = effects
            .values()
            .filter(|e| matches!(**e, "ship" | "release"));
        (effects.len(), last.count() as u64)
    };
    // Sagas whose last effect (ship, or release for a refused order) was not applied yet.
    let unfinished = n - finished;
    assert!(
        unfinished > 0 && at_kill < usize::try_from(effects).expect("fits"),
        "sagas were still in flight at the kill ({at_kill} of {effects} effects)"
    );
    // The outage itself: the server stays down for a while before it comes back.
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.restart();
    let (mut completed, mut compensated) = (0, 0);
    let mut ends = Vec::new();
    for handle in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(300), handle.outcome())
            .await
            .expect("every saga finishes")
            .expect("saga runs");
        let effects = ledger.of(outcome.id);
        match outcome.state {
            SagaState::Completed => {
                completed += 1;
                assert_eq!(effects, ["charge", "reserve", "ship"], "{}", outcome.id);
            }
            SagaState::Compensated => {
                compensated += 1;
                assert!(
                    outcome.data.refuse_shipping,
                    "{}: {:?}",
                    outcome.id, outcome.failure
                );
                assert_eq!(effects, ["charge", "refund", "release", "reserve"]);
            }
            other => panic!("saga {} ended {other:?}", outcome.id),
        }
        ends.push((outcome.id, outcome.state));
    }
    assert_eq!(completed + compensated, n);
    assert_eq!(compensated, n.div_ceil(10));
    assert_eq!(ledger.effects.lock().len() as u64, effects);
    assert!(stats.stats().reconnects > 0, "{:?}", stats.stats());
    // None lost: a fresh connection reads every saga back, terminal, from the restarted server.
    let fresh = RedisSagaLog::connect(&server.url(), log_config)
        .await
        .expect("reconnect");
    let mut lost = 0;
    for (id, state) in &ends {
        if fresh
            .load(*id)
            .await
            .expect("load")
            .map(|s| s.instance.state)
            != Some(*state)
        {
            lost += 1;
        }
    }
    println!(
        "redis restart: {n} sagas, {unfinished} in flight at the kill ({at_kill} of {effects} \
         effects applied), {completed} completed, {compensated} compensated, {lost} lost, 0 doubled, \
         {:.1} s",
        began.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "sagas missing or not terminal in the log");
    for s in services {
        s.shutdown().await;
    }
    drop(router);
}

/// Without persistence a restart loses the streams and groups: the subscription reconnects, yields
/// transient errors meanwhile, recreates its group and receives what is published afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_recreates_its_group_after_a_restart_without_persistence() {
    use saga::transport::{Message, MessageKind, TransportExt as _};
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut server) = Server::start(dir.path(), false) else {
        return;
    };
    let config = saga_redis::RedisTransportConfig::new(&server.url())
        .with_block_time(Duration::from_millis(300))
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let t = RedisTransport::connect(config).await.expect("connect");
    let mut sub = t
        .subscribe_durable("volatile", "g")
        .await
        .expect("subscribe");
    server.kill();
    let publish_err = t
        .publish("volatile", Message::new(MessageKind::Event, "lost"))
        .await
        .expect_err("the server is down");
    assert!(publish_err.is_transient(), "{publish_err:?}");
    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut errors = 0;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never delivered again"
        );
        // Until the group is back the topic has no stream and a publish reaches nobody.
        let _ = t
            .publish("volatile", Message::new(MessageKind::Event, "after"))
            .await;
        match tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
            Ok(Some(Ok(d))) => {
                assert_eq!(&d.message().payload[..], b"after");
                d.ack().await.expect("ack");
                break;
            }
            Ok(Some(Err(e))) => {
                assert!(e.is_transient(), "{e:?}");
                errors += 1;
            }
            Ok(None) => panic!("the subscription ended"),
            Err(_) => {}
        }
    }
    assert!(errors > 0, "the outage was reported as transient errors");
    assert!(t.stats().reconnects > 0);
}
