//! The test kit itself: scripted steps do what they are told, the journal records it, its
//! assertions catch what breaks the contract, and gates hold exactly the calls they should.

use std::sync::Arc;

use saga::testing::{CallOutcome, Gate, Journal};
use saga::{
    step_fn, Direction, Executor, InMemoryLog, SagaDefinition, SagaId, SagaState, StepContext,
    StepError,
};

async fn run<D: saga::SagaData>(def: SagaDefinition<D>, data: D) -> saga::SagaOutcome<D> {
    Executor::new(def, Arc::new(InMemoryLog::new()))
        .run(data)
        .await
        .expect("run")
}

/// Records a successful call of each `(step, name, direction)` of one saga.
fn record_all(journal: &Journal, calls: &[(u32, &str, Direction)]) {
    let saga = SagaId::new();
    for &(step, name, direction) in calls {
        journal
            .record(&ctx(saga, step, name, direction))
            .finish(&Ok::<_, StepError>(()));
    }
}

fn ctx(saga: SagaId, step: u32, name: &str, direction: Direction) -> StepContext {
    StepContext::new(saga, step, Arc::from(name), direction, 1)
}

#[tokio::test(start_paused = true)]
async fn transient_failures_count_per_idempotency_key_and_the_effect_applies_on_success() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("flaky", 1)
        .pivot(
            "pay",
            journal.step().fail_transiently(2).with_effect(|n| *n += 10),
        )
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let first = exec.run(1).await.expect("run");
    let second = exec.run(2).await.expect("run");
    assert_eq!((first.state, first.data), (SagaState::Completed, 11));
    assert_eq!(second.data, 12, "a second saga gets its own two failures");
    let calls = journal.calls();
    let outcomes: Vec<_> = calls.iter().map(|c| (c.attempt, c.outcome)).collect();
    let one_saga = [
        (1, CallOutcome::FailedTransiently),
        (2, CallOutcome::FailedTransiently),
        (3, CallOutcome::Succeeded),
    ];
    assert_eq!(outcomes, [one_saga, one_saga].concat());
    assert_eq!(calls[0].key.saga_id, first.id);
    assert_eq!(calls[0].direction(), Direction::Forward);
    assert_eq!(journal.effects(), ["pay", "pay"]);
    journal.assert_each_effect_once();
}

#[tokio::test]
async fn a_refusing_step_compensates_the_steps_before_it_in_reverse() {
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("refused", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", journal.step(), journal.undo())
        .compensatable("c", journal.step().refuse("no"), journal.undo())
        .build()
        .expect("valid");
    let outcome = run(def, 0).await;
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(journal.summary(), ["a", "b", "c", "undo b", "undo a"]);
    assert_eq!(journal.calls()[2].outcome, CallOutcome::Refused);
    journal.assert_compensated_in_reverse();
    journal.assert_each_effect_once();
}

#[tokio::test]
async fn hand_written_steps_record_into_the_journal_too() {
    let journal = Journal::new();
    let recorded = journal.clone();
    let step = step_fn(move |ctx: StepContext, n: u32| {
        let recording = recorded.record(&ctx);
        async move {
            let result = Ok::<_, StepError>(n * 2);
            recording.finish(&result);
            result
        }
    });
    let def = SagaDefinition::<u32>::builder("by-hand", 1)
        .pivot("double", step)
        .build()
        .expect("valid");
    let outcome = run(def, 21).await;
    assert_eq!(outcome.data, 42);
    assert_eq!(journal.effects(), ["double"]);
}

#[test]
fn an_unfinished_recording_is_an_interrupted_call() {
    let journal = Journal::new();
    drop(journal.record(&ctx(SagaId::new(), 0, "a", Direction::Forward)));
    assert_eq!(journal.calls()[0].outcome, CallOutcome::Interrupted);
    journal.clear();
    assert!(journal.calls().is_empty());
}

#[test]
#[should_panic(expected = "after compensation began")]
fn an_action_after_a_compensation_is_caught() {
    let journal = Journal::new();
    record_all(
        &journal,
        &[
            (0, "a", Direction::Forward),
            (0, "a", Direction::Compensate),
            (1, "b", Direction::Forward),
        ],
    );
    journal.assert_compensated_in_reverse();
}

#[test]
#[should_panic(expected = "after an earlier step's compensation")]
fn compensations_out_of_order_are_caught() {
    let journal = Journal::new();
    record_all(
        &journal,
        &[
            (0, "a", Direction::Forward),
            (1, "b", Direction::Forward),
            (0, "a", Direction::Compensate),
            (1, "b", Direction::Compensate),
        ],
    );
    journal.assert_compensated_in_reverse();
}

#[test]
#[should_panic(expected = "its action was never called")]
fn compensating_a_step_that_never_started_is_caught() {
    let journal = Journal::new();
    record_all(&journal, &[(3, "d", Direction::Compensate)]);
    journal.assert_compensated_in_reverse();
}

#[test]
#[should_panic(expected = "succeeded 2 times")]
fn an_effect_applied_twice_is_caught() {
    let journal = Journal::new();
    let a = ctx(SagaId::new(), 0, "a", Direction::Forward);
    for _ in 0..2 {
        journal.record(&a).finish(&Ok::<_, StepError>(()));
    }
    journal.assert_each_effect_once();
}

#[tokio::test]
async fn a_gate_holds_each_call_until_released_and_lets_all_through_once_open() {
    let gate = Gate::new();
    let passed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let spawn = || {
        let (gate, passed) = (gate.clone(), passed.clone());
        tokio::spawn(async move {
            gate.pass().await;
            passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let (first, second) = (spawn(), spawn());
    gate.entered().await;
    gate.entered().await;
    assert_eq!(gate.held(), 2);
    assert_eq!(passed.load(std::sync::atomic::Ordering::SeqCst), 0);
    gate.release(1);
    let third = spawn();
    gate.entered().await;
    gate.open();
    for task in [first, second, third] {
        task.await.expect("join");
    }
    assert_eq!(passed.load(std::sync::atomic::Ordering::SeqCst), 3);
    gate.pass().await; // open: passes at once
    assert_eq!(gate.held(), 3, "an open gate holds nothing");
}

#[tokio::test]
async fn a_passing_gate_holds_only_after_hold() {
    let gate = Gate::passing();
    gate.pass().await;
    gate.hold();
    let held = tokio::spawn({
        let gate = gate.clone();
        async move { gate.pass().await }
    });
    gate.entered().await;
    assert_eq!(gate.held(), 1);
    gate.release(1);
    held.await.expect("join");
}

#[tokio::test]
async fn a_call_dropped_at_the_gate_no_longer_waits() {
    let gate = Gate::new();
    let held = tokio::spawn({
        let gate = gate.clone();
        async move { gate.pass().await }
    });
    gate.entered().await;
    held.abort();
    assert!(held.await.expect_err("aborted").is_cancelled());
    // `open` hands out no permit for the dropped call, so a later hold holds again.
    gate.open();
    gate.hold();
    let again = tokio::spawn({
        let gate = gate.clone();
        async move { gate.pass().await }
    });
    gate.entered().await;
    assert!(!again.is_finished());
    gate.release(1);
    again.await.expect("join");
}
