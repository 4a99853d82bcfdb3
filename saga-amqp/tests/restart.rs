//! A broker restart in the middle of 1,000 sagas: on a RabbitMQ node of the test's own (so the shared
//! broker and the other tests never notice), the node is stopped and started again while sagas are in
//! flight. The transport reconnects, re-declares and resumes by itself: every saga completes, none is
//! lost, no effect is applied twice (the ledger is keyed by idempotency key).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::node::Node;
use common::sagas::{self, Job, Ledger};
use saga::participant::{
    IdempotencyStore, InMemoryIdempotencyStore, ParticipantConfig, ReplyRouter, RouterConfig,
};
use saga::{Executor, InMemoryLog, RetryPolicy, SagaId, Transport};
use saga_amqp::AmqpTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_survive_a_broker_restart() {
    let Some(node) = Node::new() else {
        common::unreachable::<()>(
            "amqp://127.0.0.1 (rabbitmq-server not installed)",
            &"skipped",
        );
        return;
    };
    if let Err(e) = tokio::task::block_in_place(|| node.start()) {
        common::unreachable::<()>(&node.url(), &e);
        return;
    }
    let t = AmqpTransport::connect(&node.url(), common::config())
        .await
        .expect("connect to the test's own node");
    let transport: Arc<dyn Transport> = Arc::new(t.clone());
    let ledger = Arc::new(Ledger::default());
    let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
    let steps = 3;
    // Held commands keep their claims through the hold and the restart: a redelivered copy finds the
    // claim in progress and is skipped, and the executor's retry then gets the stored reply.
    let config = ParticipantConfig::default().with_claim_lease(Duration::from_secs(600));
    let parts =
        sagas::participants(&transport, steps, &ledger, &store, &config, Duration::ZERO).await;
    let router = ReplyRouter::start(
        Arc::clone(&transport),
        RouterConfig::default()
            .with_owner_id("restart")
            .with_timeout(Duration::from_secs(5)),
    )
    .await
    .expect("router");
    let retry = RetryPolicy::default()
        .with_max_attempts(200)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1));
    let executor = Executor::new(
        sagas::definition(&router, steps, retry),
        Arc::new(InMemoryLog::new()),
    );
    // The last step is held: its commands are delivered and wait, unacknowledged, so the restart
    // provably happens with every saga in flight (an unheld run can finish in the seconds
    // `rabbitmqctl stop` takes to act, and then nothing has to reconnect).
    let held = steps - 1;
    ledger.hold_from(held);
    let n = 1000;
    let mut runs = Vec::new();
    for _ in 0..n {
        let executor = executor.clone();
        runs.push(tokio::spawn(async move {
            let id = SagaId::new();
            let outcome = executor.run_with_id(id, Job::default()).await;
            (id, outcome)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while ledger.len() < n * held as usize || ledger.waited() == 0 {
        assert!(
            Instant::now() < deadline,
            "the sagas did not reach the held step: {} effects",
            ledger.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = ledger.len();
    assert_eq!(before, n * held as usize, "a held step applied an effect");
    tokio::task::block_in_place(|| {
        node.stop();
        assert!(!node.is_listening(), "the node did not stop");
        std::thread::sleep(Duration::from_secs(1));
        node.start()
    })
    .expect("the node starts again");
    ledger.release();
    let mut outcomes = Vec::new();
    for run in runs {
        let (id, outcome) = tokio::time::timeout(Duration::from_secs(180), run)
            .await
            .expect("the saga finishes after the restart")
            .expect("task");
        let outcome = outcome.expect("saga runs");
        outcomes.push((id, outcome.state, None));
    }
    sagas::check(&ledger, steps, &outcomes);
    assert_eq!(ledger.len(), n * steps as usize);
    assert!(t.connections() >= 2, "the transport never reconnected");
    assert!(t.is_connected());
    eprintln!(
        "restart: {before} of {} effects before the restart, {} connections",
        n * steps as usize,
        t.connections()
    );
    for p in parts {
        p.shutdown().await;
    }
    drop(router);
    t.close().await;
    drop(node);
}
