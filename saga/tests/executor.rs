//! Executor behaviour beyond the property tests: cancel, deadlines, timeouts, stuck sagas and operator
//! actions, status, ownership, and tracing spans.

use std::sync::Arc;
use std::time::Duration;

use saga::testing::{CallOutcome, Gate, Journal};
use saga::{
    CancelRefusal, Direction, Error, EventKind, Executor, ExecutorConfig, FailureKind, InMemoryLog,
    LogError, RetryPolicy, SagaDefinition, SagaId, SagaState, StepSpec,
};

#[tokio::test]
async fn cancel_before_the_pivot_compensates_started_steps() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("cancel", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", journal.step().gated(&gate), journal.undo())
        .pivot("c", journal.step())
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    exec.cancel(handle.id())
        .await
        .expect("cancel before the pivot is accepted");
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(
        journal.summary(),
        ["a", "b", "undo b", "undo a"],
        "b finished, then both undone; c never ran"
    );
    let status = exec.status(outcome.id).await.expect("status");
    assert!(status.history.iter().any(|h| h.event == EventKind::Aborted
        && h.detail.as_deref() == Some("cancelled")
        && h.step.is_none()));
    let failure = outcome.failure.expect("the cancel is the failure");
    assert_eq!(
        (failure.kind, failure.step, failure.step_name.as_str()),
        (FailureKind::Cancelled, 2, "c"),
        "the step the saga stopped at: b finished, c never started"
    );
}

#[tokio::test]
async fn cancel_after_the_pivot_is_refused_and_the_saga_completes() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("late-cancel", 1)
        .compensatable("a", add_one(&journal), journal.undo())
        .pivot("pay", add_one(&journal).gated(&gate))
        .retriable("ship", add_one(&journal))
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    let err = exec.cancel(handle.id()).await.expect_err("past the pivot");
    assert!(
        matches!(
            err,
            Error::CancelRefused {
                reason: CancelRefusal::PastPivot,
                ..
            }
        ),
        "{err:?}"
    );
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(outcome.state, SagaState::Completed);
    assert_eq!(outcome.data, 3);
    let err = exec.cancel(outcome.id).await.expect_err("finished");
    assert!(matches!(
        err,
        Error::CancelRefused {
            reason: CancelRefusal::Finished(SagaState::Completed),
            ..
        }
    ));
    let err = exec.cancel(SagaId::new()).await.expect_err("unknown");
    assert!(matches!(err, Error::UnknownSaga { .. }));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_before_the_pivot_compensates_including_the_interrupted_step() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("deadline", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("slow", journal.step().hang(), journal.undo())
        .pivot("p", journal.step())
        .deadline(Duration::from_secs(5))
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let outcome = exec.run(0).await.expect("run");
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(
        journal.summary(),
        ["a", "slow", "undo slow", "undo a"],
        "the interrupted step has an unknown outcome and is compensated"
    );
    assert_eq!(journal.calls()[1].outcome, CallOutcome::Interrupted);
    journal.assert_compensated_in_reverse();
    let failure = outcome
        .failure
        .clone()
        .expect("the deadline is the failure");
    assert_eq!(
        (failure.kind, failure.step_name.as_str()),
        (FailureKind::DeadlineExceeded, "slow")
    );
    let status = exec.status(outcome.id).await.expect("status");
    let aborted = status
        .history
        .iter()
        .find(|h| h.event == EventKind::Aborted)
        .expect("the abort is recorded");
    assert_eq!(aborted.detail.as_deref(), Some("deadline_exceeded"));
    assert_eq!(exec.wait(outcome.id).await.expect("wait"), outcome);
}

#[tokio::test(start_paused = true)]
async fn after_the_pivot_a_deadline_no_longer_applies() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("deadline-late", 1)
        .pivot("pay", journal.step())
        .retriable("ship", journal.step().gated(&gate))
        .deadline(Duration::from_secs(5))
        .build()
        .expect("valid");
    let handle = Executor::new(def, Arc::new(InMemoryLog::new()))
        .start(0)
        .await
        .expect("start");
    gate.entered().await;
    tokio::time::advance(Duration::from_secs(60)).await;
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(outcome.state, SagaState::Completed);
    assert_eq!(
        journal.effects(),
        ["pay", "ship"],
        "ship ran on, uninterrupted, past the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_keeps_timing_out_is_retried_then_compensated() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("timeout", 1)
        .compensatable("a", journal.step(), journal.undo())
        .step(
            StepSpec::compensatable("hang", journal.step().hang(), journal.undo())
                .with_timeout(Duration::from_millis(100)),
        )
        .build()
        .expect("valid");
    let outcome = Executor::new(def, Arc::new(InMemoryLog::new()))
        .run(0)
        .await
        .expect("run");
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(
        journal.summary(),
        ["a", "hang", "hang", "hang", "undo hang", "undo a"],
        "default policy: 3 attempts, then the unknown outcome is compensated"
    );
}

#[tokio::test(start_paused = true)]
async fn a_compensation_that_gives_up_parks_the_saga_until_an_operator_retries() {
    let journal = Journal::new();
    // The refund service is down for the compensation's two attempts, back for the operator's retry.
    let flaky_undo = journal.undo().fail_transiently(2);
    let def = SagaDefinition::<u32>::builder("stuck", 1)
        .step(
            StepSpec::compensatable("a", journal.step(), flaky_undo)
                .with_compensation_retry(RetryPolicy::default().with_max_attempts(2)),
        )
        .pivot("pay", journal.step().refuse("card declined"))
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let outcome = exec.run(0).await.expect("run");
    assert_eq!(outcome.state, SagaState::Stuck, "never silently failed");
    let status = exec.status(outcome.id).await.expect("status");
    assert_eq!(status.state, SagaState::Stuck);
    let current = status.current_step.expect("a current step");
    assert_eq!(
        (current.index, current.name.as_str(), current.direction),
        (0, "a", Direction::Compensate)
    );
    assert_eq!(
        status.history.last().map(|h| h.event),
        Some(EventKind::StuckCompensating)
    );
    let cause = outcome.failure.clone().expect("a failure");
    assert_eq!(
        (cause.kind, cause.step_name.as_str(), cause.message.as_str()),
        (
            FailureKind::Refused,
            "pay",
            "permanent step error: card declined"
        ),
        "a stuck compensation keeps the cause of the compensation"
    );

    // Recovery leaves stuck sagas alone.
    assert_eq!(exec.recover().await.expect("recover").resumed(), 0);

    let retried = exec.retry(outcome.id).await.expect("operator retry");
    assert_eq!(retried.state, SagaState::Compensated);
    assert_eq!(
        retried.failure,
        Some(cause),
        "the operator retry keeps the original cause"
    );
    assert_eq!(journal.effects(), ["a", "undo a"]);
    assert_eq!(journal.count("a", Direction::Compensate), 3);
    let err = exec.retry(outcome.id).await.expect_err("no longer stuck");
    assert!(matches!(
        err,
        Error::NotStuck {
            state: SagaState::Compensated,
            ..
        }
    ));
}

#[tokio::test]
async fn an_operator_can_resolve_a_stuck_saga() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("resolve", 1)
        .pivot("p", journal.step())
        .retriable("r", journal.step().refuse("gone"))
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let outcome = exec.run(0).await.expect("run");
    assert_eq!(
        outcome.state,
        SagaState::Stuck,
        "a retriable step that refuses parks the saga"
    );
    exec.resolve(outcome.id, "shipped by hand")
        .await
        .expect("resolve");
    let status = exec.status(outcome.id).await.expect("status");
    assert_eq!(status.state, SagaState::Resolved);
    let last = status.history.last().expect("history");
    assert_eq!(
        (last.event, last.detail.as_deref()),
        (EventKind::OperatorResolved, Some("shipped by hand"))
    );
}

#[tokio::test]
async fn status_reports_state_current_step_and_history() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("status", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", journal.step().gated(&gate), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let handle = exec.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    let status = exec.status(id).await.expect("status");
    assert_eq!(status.state, SagaState::Running);
    let current = status.current_step.expect("a current step");
    assert_eq!(
        (current.index, current.name.as_str(), current.direction),
        (1, "b", Direction::Forward)
    );
    let events: Vec<_> = status
        .history
        .iter()
        .map(|h| (h.event, h.step_name.clone()))
        .collect();
    assert_eq!(
        events,
        [
            (EventKind::Started, None),
            (EventKind::StepCompleted, Some("a".to_owned()))
        ]
    );
    gate.release(1);
    handle.outcome().await.expect("outcome");
    let status = exec.status(id).await.expect("status");
    assert_eq!(status.state, SagaState::Completed);
    assert_eq!(status.current_step, None);
    assert_eq!(status.history.len(), 4);
    assert!(matches!(
        exec.status(SagaId::new()).await,
        Err(Error::UnknownSaga { .. })
    ));
}

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

/// A step that counts itself into the data.
fn add_one(journal: &Journal) -> saga::testing::ScriptedStep<u32> {
    journal.step().with_effect(|n| *n += 1)
}
