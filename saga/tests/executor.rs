//! Executor behaviour beyond the property tests: cancel, deadlines, timeouts and status (stuck sagas
//! and operator actions are in `operator.rs`, ownership and recovery in `ownership.rs`).

use std::sync::Arc;
use std::time::Duration;

use saga::testing::{CallOutcome, Gate, Journal};
use saga::{
    CancelRefusal, Direction, Error, EventKind, Executor, FailureKind, InMemoryLog, SagaDefinition,
    SagaId, SagaState, StepSpec,
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

/// A step that counts itself into the data.
fn add_one(journal: &Journal) -> saga::testing::ScriptedStep<u32> {
    journal.step().with_effect(|n| *n += 1)
}
