//! One owner per saga: a stale executor gets a conflict, a caller-chosen id starts once, recovery
//! leaves the sagas an executor drives alone, and an aborted driver leaves its saga for recovery.

use std::sync::Arc;
use std::time::Duration;

use saga::testing::{CallOutcome, Gate, Journal};
use saga::{
    Error, EventKind, Executor, ExecutorConfig, InMemoryLog, LogError, SagaDefinition, SagaId,
    SagaState,
};

#[tokio::test(start_paused = true)]
async fn a_stale_executor_gets_a_conflict_and_the_new_owner_finishes() {
    let journal = Journal::new();
    let gate = Gate::new();
    let log = Arc::new(InMemoryLog::new());
    let ttl = Duration::from_secs(10);
    let first = Executor::with_config(
        SagaDefinition::<u32>::builder("owned", 1)
            .compensatable("a", journal.step().gated(&gate), journal.undo())
            .build()
            .expect("valid"),
        log.clone(),
        ExecutorConfig::default()
            .with_owner_id("first")
            .with_lease_ttl(ttl),
    );
    let second = Executor::with_config(
        SagaDefinition::<u32>::builder("owned", 1)
            .compensatable("a", journal.step().named("a (second)"), journal.undo())
            .build()
            .expect("valid"),
        log.clone(),
        ExecutorConfig::default()
            .with_owner_id("second")
            .with_lease_ttl(ttl),
    );
    let handle = first.start(0).await.expect("start");
    gate.entered().await;
    assert_eq!(
        second.recover().await.expect("recover").resumed(),
        0,
        "a live lease is respected"
    );
    tokio::time::advance(ttl + Duration::from_secs(1)).await;
    let report = second.recover().await.expect("recover");
    assert_eq!(
        report.completed, 1,
        "the expired saga is taken over and finished"
    );
    gate.release(1);
    let err = handle
        .outcome()
        .await
        .expect_err("the stale driver must stop");
    assert!(
        matches!(err, Error::Log(LogError::Conflict { .. })),
        "{err:?}"
    );
    let status = second.status(report_id(&log).await).await.expect("status");
    assert_eq!(status.state, SagaState::Completed);
    assert_eq!(
        status
            .history
            .iter()
            .filter(|h| h.event == EventKind::StepCompleted)
            .count(),
        1,
        "one completion recorded"
    );
}

async fn report_id(log: &InMemoryLog) -> SagaId {
    use saga::log::ListQuery;
    use saga::SagaLog;
    log.list(ListQuery::in_states([], 1)).await.expect("list")[0].id
}

#[tokio::test]
async fn a_caller_chosen_id_cannot_start_twice() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("idempotent-start", 1)
        .compensatable("a", journal.step(), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let id = SagaId::new();
    exec.run_with_id(id, 0).await.expect("first");
    let err = exec
        .run_with_id(id, 0)
        .await
        .expect_err("second start of the same id");
    assert!(matches!(
        err,
        Error::Log(LogError::Conflict {
            kind: saga::log::ConflictKind::AlreadyExists,
            ..
        })
    ));
    assert_eq!(journal.summary(), ["a"], "the step ran once");
}

#[tokio::test]
async fn recover_leaves_sagas_this_executor_is_driving_alone() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("busy", 1)
        .compensatable("a", journal.step().gated(&gate), journal.undo())
        .compensatable("b", journal.step(), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::with_config(
        def,
        Arc::new(InMemoryLog::new()),
        ExecutorConfig::default().with_owner_id("stable"),
    );
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    let report = exec.recover().await.expect("recover");
    assert_eq!(
        report.resumed(),
        0,
        "its own running saga is not resumed twice"
    );
    gate.release(1);
    let outcome = handle
        .outcome()
        .await
        .expect("the original driver keeps its lease");
    assert_eq!(outcome.state, SagaState::Completed);
    assert_eq!(journal.summary(), ["a", "b"]);
}

#[tokio::test]
async fn an_aborted_driver_leaves_the_saga_for_recovery() {
    let journal = Journal::new();
    let gate = Gate::new();
    let log = Arc::new(InMemoryLog::new());
    let config = ExecutorConfig::default().with_owner_id("restartable");
    let def = |gate: &Gate| {
        SagaDefinition::<u32>::builder("abort", 1)
            .compensatable("a", journal.step(), journal.undo())
            .compensatable("b", journal.step().gated(gate), journal.undo())
            .build()
            .expect("valid")
    };
    let first = Executor::with_config(def(&gate), log.clone(), config.clone());
    let handle = first.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    handle.abort();
    assert!(matches!(
        handle.outcome().await,
        Err(Error::DriverAborted { .. })
    ));
    assert_eq!(
        first.status(id).await.expect("status").state,
        SagaState::Running
    );

    let restarted = Executor::with_config(def(&Gate::passing()), log, config);
    let report = restarted.recover().await.expect("recover");
    assert_eq!(report.completed, 1);
    assert_eq!(
        journal.summary(),
        ["a", "b", "b"],
        "b ran again after the crash, a did not"
    );
    assert_eq!(journal.calls()[1].outcome, CallOutcome::Interrupted);
}
