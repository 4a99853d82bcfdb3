//! A broker restart in the middle of 1,000 sagas (10,000 with `SAGA_LONG_FAULTS=1`, or
//! `SAGA_RESTART_SAGAS=n`): on a RabbitMQ node of the test's own (so the shared broker and the other
//! tests never notice), the broker is restarted while every saga is in flight, either the whole node
//! (`rabbitmqctl stop`, `rabbitmq-server -detached`) or only its application (`rabbitmqctl stop_app`,
//! `start_app`). The transport reconnects, re-declares and resumes by itself: every saga reaches its
//! terminal state (one in ten is refused at its last step and compensates), none is lost, no effect is
//! applied twice (the ledger is keyed by idempotency key).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::node::Node;
use common::sagas::{self, Job, Ledger};
use saga::participant::{
    IdempotencyStore, InMemoryIdempotencyStore, ParticipantConfig, ReplyRouter, RouterConfig,
};
use saga::testing::fault_scale;
use saga::{Executor, InMemoryLog, RetryPolicy, SagaId, SagaState, Transport};
use saga_amqp::AmqpTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_survive_a_broker_restart() {
    run("node stop/start", |node| {
        node.stop();
        if node.is_listening() {
            return Err("the node did not stop".to_owned());
        }
        node.start()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_survive_stop_app_and_start_app() {
    run("stop_app/start_app", |node| {
        node.stop_app()?;
        node.start_app()
    })
    .await;
}

/// Runs the sagas on a fresh node of the test's own and `restart`s it while they are all in flight.
async fn run(what: &str, restart: fn(&Node) -> Result<(), String>) {
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
    let n = usize::try_from(fault_scale("SAGA_RESTART_SAGAS", 1000, 10_000)).expect("fits");
    // The held commands' redelivered copies are skipped (their claims are in progress), so every saga
    // retries its last step once after the timeout; a command waits behind up to n others, 5 ms each
    // (5 s for 1,000), else a large run retries faster than the participants drain the queues.
    let timeout =
        Duration::from_millis(5 * u64::try_from(n).expect("fits")).max(Duration::from_secs(5));
    let router = ReplyRouter::start(
        Arc::clone(&transport),
        RouterConfig::default()
            .with_owner_id("restart")
            .with_timeout(timeout),
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
    let began = Instant::now();
    let mut runs = Vec::new();
    for i in 0..n {
        let executor = executor.clone();
        // One in ten is refused at the (held) last step and compensates after the restart.
        let fail_at = (i % 10 == 0).then_some(held);
        runs.push(tokio::spawn(async move {
            let id = SagaId::new();
            let outcome = executor.run_with_id(id, Job { fail_at }).await;
            (id, fail_at, outcome)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
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
    tokio::task::block_in_place(|| restart(&node)).expect("the broker restarts");
    ledger.release();
    let mut outcomes = Vec::new();
    let (mut completed, mut compensated) = (0, 0);
    for run in runs {
        let (id, fail_at, outcome) = tokio::time::timeout(Duration::from_secs(300), run)
            .await
            .expect("the saga finishes after the restart")
            .expect("task");
        let outcome = outcome.expect("saga runs");
        match outcome.state {
            SagaState::Completed => completed += 1,
            SagaState::Compensated => compensated += 1,
            _ => {}
        }
        outcomes.push((id, outcome.state, fail_at));
    }
    sagas::check(&ledger, steps, &outcomes);
    // Every step of a completed saga; the first two and their undos of a compensated one.
    assert_eq!(
        ledger.len(),
        completed * steps as usize + compensated * 2 * held as usize
    );
    assert_eq!(completed + compensated, n);
    assert!(t.connections() >= 2, "the transport never reconnected");
    assert!(t.is_connected());
    println!(
        "amqp restart ({what}): {n} sagas, {n} in flight at the restart ({before} effects before), \
         {completed} completed, {compensated} compensated, 0 lost, 0 doubled, {} connections, {:.1} s",
        t.connections(),
        began.elapsed().as_secs_f64()
    );
    for p in parts {
        p.shutdown().await;
    }
    drop(router);
    t.close().await;
    drop(node);
}
