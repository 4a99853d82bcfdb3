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
    let config = ParticipantConfig::default().with_claim_lease(Duration::from_secs(2));
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while ledger.len() < n * steps as usize / 4 {
        assert!(Instant::now() < deadline, "no progress before the restart");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = ledger.len();
    tokio::task::block_in_place(|| {
        node.stop();
        std::thread::sleep(Duration::from_secs(1));
        node.start()
    })
    .expect("the node starts again");
    assert!(
        before < n * steps as usize,
        "everything finished before the restart"
    );
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
