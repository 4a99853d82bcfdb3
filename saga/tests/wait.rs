//! `Executor::wait`: the outcome of a saga by id, whatever path of this executor drives it, and a typed
//! error for one that no driver here holds.

use std::sync::Arc;
use std::time::Duration;

use saga::testing::{Gate, Journal, ScriptedStep};
use saga::{
    Error, Executor, ExecutorConfig, FailureKind, InMemoryLog, RetryPolicy, SagaDefinition, SagaId,
    SagaLog, SagaState, StepSpec,
};

/// A step that counts itself into the data.
fn add_one(journal: &Journal) -> ScriptedStep<u32> {
    journal.step().with_effect(|n| *n += 1)
}

/// `a`, a gated `b`, and a pivot that refuses when `refusing`.
fn definition(journal: &Journal, gate: &Gate, refusing: bool) -> SagaDefinition<u32> {
    let pay = if refusing {
        journal.step().refuse("card declined")
    } else {
        add_one(journal)
    };
    SagaDefinition::builder("wait", 1)
        .compensatable("a", add_one(journal), journal.undo())
        .compensatable("b", add_one(journal).gated(gate), journal.undo())
        .pivot("pay", pay)
        .build()
        .expect("valid")
}

#[tokio::test]
async fn wait_returns_what_the_driver_of_a_started_saga_returns() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let exec = Executor::new(
        definition(&journal, &gate, true),
        Arc::new(InMemoryLog::new()),
    );
    let handle = exec.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    let waiting = tokio::spawn({
        let exec = exec.clone();
        async move { exec.wait(id).await }
    });
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    let waited = waiting.await.expect("task").expect("wait");
    assert_eq!(waited, outcome);
    assert_eq!(outcome.state, SagaState::Compensated);
    let failure = outcome.failure.expect("the refusal");
    assert_eq!(
        (failure.step, failure.step_name.as_str(), failure.kind),
        (2, "pay", FailureKind::Refused)
    );
}

#[tokio::test]
async fn the_outcome_of_a_finished_saga_is_rebuilt_from_the_log_as_the_driver_returned_it() {
    let (journal, gate) = (Journal::new(), Gate::passing());
    let log: Arc<dyn SagaLog> = Arc::new(InMemoryLog::new());
    let exec = Executor::new(definition(&journal, &gate, true), log.clone());
    let refused = exec.run(0).await.expect("run");
    let exec = Executor::new(definition(&journal, &gate, false), log.clone());
    let completed = exec.run(5).await.expect("run");
    // Another executor (a restarted process) answers from the log alone.
    let other = Executor::new(definition(&journal, &gate, false), log);
    assert_eq!(other.wait(refused.id).await.expect("wait"), refused);
    assert_eq!(other.wait(completed.id).await.expect("wait"), completed);
    assert_eq!((completed.data, completed.failure), (8, None));
    assert!(matches!(
        other.wait(SagaId::new()).await,
        Err(Error::UnknownSaga { .. })
    ));
}

#[tokio::test]
async fn wait_follows_a_saga_taken_over_by_cancel() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let log: Arc<dyn SagaLog> = Arc::new(InMemoryLog::new());
    let config = ExecutorConfig::default().with_owner_id("restarted");
    let first = Executor::with_config(
        definition(&journal, &gate, false),
        log.clone(),
        config.clone(),
    );
    let handle = first.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    handle.abort();
    assert!(handle.outcome().await.is_err());

    // The same owner id, restarted: its cancel takes the saga over and drives it on a task.
    let gate = Gate::passing();
    let exec = Executor::with_config(definition(&journal, &gate, false), log, config);
    exec.cancel(id).await.expect("cancel before the pivot");
    let outcome = exec.wait(id).await.expect("wait");
    assert_eq!(outcome.state, SagaState::Compensated);
    let failure = outcome.failure.expect("the cancel");
    assert_eq!(
        (failure.kind, failure.step_name.as_str()),
        (FailureKind::Cancelled, "b")
    );
}

#[tokio::test]
async fn wait_follows_a_saga_resumed_by_recover() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let log: Arc<dyn SagaLog> = Arc::new(InMemoryLog::new());
    let config = ExecutorConfig::default().with_owner_id("restarted");
    let first = Executor::with_config(
        definition(&journal, &gate, false),
        log.clone(),
        config.clone(),
    );
    let handle = first.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    handle.abort();
    assert!(handle.outcome().await.is_err());

    let exec = Executor::with_config(definition(&journal, &gate, false), log, config);
    assert!(
        matches!(
            exec.wait(id).await,
            Err(Error::NotDrivenHere {
                state: SagaState::Running,
                ..
            })
        ),
        "before recover, nothing here drives it"
    );
    gate.open();
    // recover claims and spawns the saga's driver before its first await that waits; wait then
    // finds that driver and is told its outcome.
    let (report, waited) = tokio::join!(exec.recover(), exec.wait(id));
    assert_eq!(report.expect("recover").completed, 1);
    let outcome = waited.expect("wait");
    assert_eq!((outcome.state, outcome.data), (SagaState::Completed, 3));
}

#[tokio::test]
async fn wait_returns_when_an_operator_retry_finishes_a_stuck_saga() {
    // The carrier is down for the first call, back for the operator's retry.
    let journal = Journal::new();
    let flaky = add_one(&journal).fail_transiently(1);
    let def = SagaDefinition::builder("retried", 1)
        .pivot("pay", journal.step())
        .step(StepSpec::retriable("ship", flaky).with_retry(RetryPolicy::no_retry()))
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let stuck = exec.run(0).await.expect("run");
    assert_eq!(stuck.state, SagaState::Stuck);
    assert_eq!(
        exec.wait(stuck.id).await.expect("wait"),
        stuck,
        "a stuck saga is settled"
    );
    let retried = exec.retry(stuck.id).await.expect("retry");
    assert_eq!(retried.state, SagaState::Completed);
    assert_eq!(exec.wait(stuck.id).await.expect("wait"), retried);
    let failure = retried
        .failure
        .expect("the stuck step, kept after the retry");
    assert_eq!(
        (failure.kind, failure.step_name.as_str()),
        (FailureKind::Stuck, "ship")
    );
}

#[tokio::test(start_paused = true)]
async fn a_saga_another_executor_drives_is_a_typed_error_not_a_hang() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let log: Arc<dyn SagaLog> = Arc::new(InMemoryLog::new());
    let owner = ExecutorConfig::default()
        .with_owner_id("process-a")
        .with_lease_ttl(Duration::from_secs(60));
    let a = Executor::with_config(definition(&journal, &gate, false), log.clone(), owner);
    let handle = a.start(0).await.expect("start");
    gate.entered().await;
    let b = Executor::with_config(
        definition(&journal, &gate, false),
        log,
        ExecutorConfig::default().with_owner_id("process-b"),
    );
    match b.wait(handle.id()).await {
        Err(Error::NotDrivenHere { state, owner, .. }) => {
            assert_eq!(
                (state, owner.as_deref()),
                (SagaState::Running, Some("process-a"))
            );
        }
        other => panic!("expected NotDrivenHere, got {other:?}"),
    }
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(
        b.wait(outcome.id).await.expect("finished: from the log"),
        outcome
    );
}
