//! Against a `redis-server` this test starts itself (append-only file in a temp dir, on a free
//! loopback port): 1,000 sagas in flight over Redis Streams, the server killed (SIGKILL) and
//! restarted. Subscriptions reconnect by themselves and every saga reaches its terminal state, with
//! every effect applied once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::server::Server;
use common::shop::{self, Ledger, Order};
use saga::participant::{IdempotencyStore, ReplyRouter, RouterConfig};
use saga::transport::Transport;
use saga::{Executor, InMemoryIdempotencyStore, InMemoryLog, SagaState};
use saga_redis::RedisTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_in_flight_survive_a_server_kill_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(mut server) = Server::start(dir.path(), true) else {
        return;
    };
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
    let executor = Executor::new(
        shop::definition(&router, Duration::from_secs(3), 40),
        Arc::new(InMemoryLog::new()),
    );
    let mut handles = Vec::new();
    for i in 0..1000u64 {
        let order = Order {
            amount: 1 + i % 50,
            refuse_shipping: i % 10 == 0,
        };
        handles.push(executor.start(order).await.expect("start"));
    }
    // Kill while the sagas are provably in flight: 500 handler calls begun of the ≥ 3,100 the run
    // needs.
    tokio::time::timeout(Duration::from_secs(60), ledger.started_at_least(500))
        .await
        .expect("the sagas make progress before the kill");
    server.kill();
    let at_kill = ledger.effects.lock().len();
    assert!(
        at_kill < 3100,
        "sagas were still in flight at the kill ({at_kill} of 3100 effects)"
    );
    println!("{at_kill} of 3100 effects applied when the server was killed");
    // The outage itself: the server stays down for a while before it comes back.
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.restart();
    let (mut completed, mut compensated) = (0, 0);
    for handle in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(240), handle.outcome())
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
    }
    assert_eq!((completed, compensated), (900, 100));
    assert!(stats.stats().reconnects > 0, "{:?}", stats.stats());
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
