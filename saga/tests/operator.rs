//! Stuck sagas and the operator actions: a compensation that gives up parks the saga until an
//! operator retries it; an operator can resolve it by hand.

use std::sync::Arc;

use saga::testing::Journal;
use saga::{
    Direction, Error, EventKind, Executor, FailureKind, InMemoryLog, RetryPolicy, SagaDefinition,
    SagaState, StepSpec,
};

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
