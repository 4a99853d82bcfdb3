//! A participant process SIGKILLed mid-run, for each transport (Redis Streams and RabbitMQ, the
//! shared local brokers under a random prefix). The test re-executes its own binary as the process
//! serving the saga's three steps (`child.rs`), runs 1,000 sagas (10,000 with `SAGA_LONG_FAULTS=1`,
//! or `SAGA_RESTART_SAGAS=n`; one in ten refused at its last step, so it compensates), SIGKILLs the
//! participant once it has begun n/2 commands (read from the durable ledger, not guessed by a
//! sleep), starts a new one, and checks that every saga reached its terminal state, none lost, no
//! effect applied twice: the ledger, on Redis, deduplicates across processes by idempotency key the
//! way a real participant does (`ledger.rs`). Everything created is deleted afterwards.

mod backend;
mod child;
mod ledger;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backend::Backend;
use child::{Child, STEPS};
use futures::FutureExt as _;
use ledger::Ledger;
use saga::participant::{ReplyRouter, RouterConfig};
use saga::testing::fault_scale;
use saga::transport::TransportExt as _;
use saga::{
    Direction, Executor, IdempotencyKey, InMemoryLog, RetryPolicy, SagaDefinition, SagaId,
    SagaState, StepSpec,
};

/// Saga data: the step that refuses, if any.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Job {
    fail_at: Option<u32>,
}

/// The child process's entry point (see `child.rs`); does nothing in a normal test run.
#[test]
#[ignore = "the participant process of the kill tests, started by them"]
fn child_participant() {
    if let Ok(spec) = std::env::var(child::ENV) {
        child::serve(&spec);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_participant_process_killed_mid_run() {
    let url = std::env::var("SAGA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    run("redis", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_participant_process_killed_mid_run() {
    let url = std::env::var("SAGA_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    run("amqp", &url).await;
}

/// Prints the skip line, or panics when `SAGA_REQUIRE_BACKENDS=1`.
fn unreachable(what: &str, error: &dyn std::fmt::Display) {
    if std::env::var("SAGA_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("{what} unreachable and SAGA_REQUIRE_BACKENDS=1: {error}");
    }
    println!("skipped: {what} unreachable: {error}");
}

async fn run(kind: &str, url: &str) {
    let prefix = format!("kill{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let ledger_url = std::env::var("SAGA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let ledger = match Ledger::connect(&ledger_url, &prefix).await {
        Ok(ledger) => ledger,
        Err(e) => return unreachable("redis (the ledger)", &e),
    };
    let backend = match Backend::connect(kind, url, &prefix).await {
        Ok(backend) => backend,
        Err(e) => return unreachable(kind, &e),
    };
    let outcome = std::panic::AssertUnwindSafe(kill_mid_run(
        kind,
        &backend,
        &ledger,
        &format!("{kind} {url} {prefix} {ledger_url}"),
    ))
    .catch_unwind()
    .await;
    ledger.delete().await;
    backend.delete().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Aborts the tasks when dropped (also while a failing test unwinds).
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn definition(router: &ReplyRouter) -> SagaDefinition<Job> {
    let retry = RetryPolicy::default()
        .with_max_attempts(200)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1));
    let mut b = SagaDefinition::<Job>::builder("kill", 1);
    for i in 0..STEPS {
        let topic = format!("step{i}");
        let action = router.step(
            topic.clone(),
            "do",
            move |j: &Job| j.fail_at == Some(i),
            |_: &mut Job, (): ()| {},
        );
        let undo = router.compensation(topic, "undo", |_: &Job| ());
        b = b.step(
            StepSpec::compensatable(format!("step{i}"), action, undo)
                .with_retry(retry)
                .with_compensation_retry(retry),
        );
    }
    b.build().expect("a valid definition")
}

/// The keys a saga's effects must have: every step of a completed one; the steps before the refusal
/// and their undos for a compensated one.
fn expected_keys(id: SagaId, state: SagaState, fail_at: Option<u32>) -> Vec<String> {
    let key = |step, direction| IdempotencyKey::new(id, step, direction).to_string();
    match (state, fail_at) {
        (SagaState::Completed, None) => (0..STEPS).map(|s| key(s, Direction::Forward)).collect(),
        (SagaState::Compensated, Some(k)) => (0..k)
            .flat_map(|s| [key(s, Direction::Forward), key(s, Direction::Compensate)])
            .collect(),
        other => panic!("saga {id} ended {other:?}"),
    }
}

async fn kill_mid_run(kind: &str, backend: &Backend, ledger: &Ledger, spec: &str) {
    let began = Instant::now();
    let transport = backend.transport();
    // The step queues (groups) exist before any command is published, whichever process is up.
    for i in 0..STEPS {
        let name = format!("step{i}");
        drop(
            transport
                .subscribe_durable(&name, &name)
                .await
                .expect("declare"),
        );
    }
    let n = usize::try_from(fault_scale("SAGA_RESTART_SAGAS", 1000, 10_000)).expect("fits");
    // A command waits behind up to n others: 3 ms each before it is retried (3 s for 1,000), else a
    // large run times out and retries its first wave faster than one participant drains it.
    let timeout =
        Duration::from_millis(3 * u64::try_from(n).expect("fits")).max(Duration::from_secs(3));
    let router = ReplyRouter::start(
        Arc::clone(&transport),
        RouterConfig::default()
            .with_owner_id("kill")
            .with_timeout(timeout),
    )
    .await
    .expect("router");
    let executor = Executor::new(definition(&router), Arc::new(InMemoryLog::new()));
    let mut first = Child::spawn(spec);
    let finished = Arc::new(AtomicUsize::new(0));
    let mut runs = Vec::new();
    // If the test fails, the sagas still running stop before the prefix is deleted (else their
    // retries would publish, and re-declare, behind the cleanup's back).
    let mut abort = AbortOnDrop(Vec::new());
    for i in 0..n {
        let (executor, finished) = (executor.clone(), Arc::clone(&finished));
        let fail_at = (i % 10 == 0).then_some(STEPS - 1);
        runs.push(tokio::spawn(async move {
            let id = SagaId::new();
            let outcome = executor.run_with_id(id, Job { fail_at }).await;
            finished.fetch_add(1, Ordering::SeqCst);
            (id, fail_at, outcome)
        }));
        abort
            .0
            .extend(runs.last().map(tokio::task::JoinHandle::abort_handle));
    }
    // Kill once the participant has begun n/2 commands, as its durable ledger shows.
    let kill_after = u64::try_from(n / 2).expect("fits");
    let deadline = Instant::now() + Duration::from_secs(120);
    while ledger.begun().await < kill_after {
        assert!(Instant::now() < deadline, "the participant never got going");
        assert!(first.is_running(), "the participant process exited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    let in_flight = n - finished.load(Ordering::SeqCst);
    let (begun_at_kill, at_kill) = (ledger.begun().await, ledger.audit().await);
    assert!(in_flight > 0, "every saga ended before the kill");
    let _second = Child::spawn(spec);
    let (mut completed, mut compensated) = (0, 0);
    let mut expected = HashSet::new();
    for run in runs {
        let (id, fail_at, outcome) = tokio::time::timeout(Duration::from_secs(300), run)
            .await
            .expect("every saga finishes after the kill")
            .expect("task");
        let state = outcome.expect("saga runs").state;
        match state {
            SagaState::Completed => completed += 1,
            SagaState::Compensated => compensated += 1,
            _ => {}
        }
        expected.extend(expected_keys(id, state, fail_at));
    }
    let audit = ledger.audit().await;
    let lost: Vec<_> = expected.difference(&audit.keys).collect();
    let extra: Vec<_> = audit.keys.difference(&expected).collect();
    let doubled = audit.applied - audit.keys.len() as u64;
    println!(
        "{kind} participant kill: {n} sagas, {in_flight} in flight at the kill ({} commands begun, \
         {} effects applied), {completed} completed, {compensated} compensated, {} lost, {doubled} \
         doubled, {} runs re-executed an applied effect, {:.1} s",
        begun_at_kill,
        at_kill.keys.len(),
        lost.len(),
        audit.runs - audit.applied,
        began.elapsed().as_secs_f64()
    );
    assert_eq!(completed + compensated, n);
    assert!(lost.is_empty(), "effects missing: {lost:?}");
    assert!(extra.is_empty(), "effects no saga asked for: {extra:?}");
    assert_eq!(doubled, 0, "effects applied twice");
    drop(router);
}
