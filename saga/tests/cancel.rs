//! `cancel` is accepted only when the saga will compensate, and one saga never gets two drivers
//! (hardening: cancel accepted but ignored; cancel during an operator retry or a recovery at the pivot;
//! concurrent cancels).

mod common;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use common::GatedLog;
use saga::testing::{Gate, Journal};
use saga::{
    CancelRefusal, Error, Executor, ExecutorConfig, RetryPolicy, SagaDefinition, SagaId, SagaState,
    StepSpec,
};

/// Runs two futures on this task, always polling `a` before `b` (unlike `join!`, which rotates), so
/// that `b` runs in the same pass as the step of `a` that wakes it, before any spawned task.
async fn in_order<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().expect("a"), out_b.take().expect("b")))
        } else {
            Poll::Pending
        }
    })
    .await
}

fn past_pivot(result: Result<(), Error>) -> bool {
    matches!(
        result,
        Err(Error::CancelRefused {
            reason: CancelRefusal::PastPivot,
            ..
        })
    )
}

#[tokio::test]
async fn cancel_during_the_last_step_of_a_saga_without_pivot_compensates_every_step() {
    let journal = Journal::new();
    let gate = Gate::new();
    let def = SagaDefinition::<u32>::builder("no-pivot", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", journal.step().gated(&gate), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::new(def, GatedLog::new());
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    exec.cancel(handle.id())
        .await
        .expect("the last step has not completed: cancel is accepted");
    gate.release(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(
        outcome.state,
        SagaState::Compensated,
        "an accepted cancel compensates"
    );
    assert_eq!(journal.summary(), ["a", "b", "undo b", "undo a"]);

    // Once the saga completed, cancel is refused.
    let err = exec.cancel(outcome.id).await;
    assert!(
        matches!(
            err,
            Err(Error::CancelRefused {
                reason: CancelRefusal::Finished(SagaState::Compensated),
                ..
            })
        ),
        "{err:?}"
    );
}

/// A definition whose pivot hangs at `pay` (and so times out) until the gate opens.
fn flaky_pivot_saga(journal: &Journal, pay: &Gate) -> SagaDefinition<u32> {
    SagaDefinition::<u32>::builder("stuck-pivot", 1)
        .compensatable("a", journal.step(), journal.undo())
        .step(
            StepSpec::pivot("pay", journal.step().gated(pay))
                .with_timeout(Duration::from_secs(1))
                .with_retry(RetryPolicy::default().with_max_attempts(1)),
        )
        .retriable("ship", journal.step())
        .build()
        .expect("valid")
}

#[tokio::test(start_paused = true)]
async fn cancel_during_an_operator_retry_of_a_stuck_pivot_is_refused_and_recovery_stays_healthy() {
    let journal = Journal::new();
    let pay = Gate::new();
    let log = GatedLog::new();
    let exec = Executor::new(flaky_pivot_saga(&journal, &pay), log.clone());
    let outcome = exec.run(0).await.expect("run");
    assert_eq!(
        outcome.state,
        SagaState::Stuck,
        "a pivot with an unknown outcome parks"
    );
    let id = outcome.id;

    pay.open();
    log.appends.hold();
    let retry = tokio::spawn({
        let exec = exec.clone();
        async move { exec.retry(id).await }
    });
    log.appends.entered().await; // the retry's first write is in progress
    assert!(
        past_pivot(exec.cancel(id).await),
        "a saga past its pivot refuses cancel"
    );
    log.appends.open();
    let retried = retry.await.expect("join").expect("operator retry");
    assert_eq!(retried.state, SagaState::Completed);
    assert_eq!(journal.summary(), ["a", "pay", "pay", "ship"]);

    let report = exec.recover().await.expect("recover");
    assert!(
        report.failed.is_empty() && report.corrupt.is_empty(),
        "{report:?}"
    );
    assert_eq!(
        exec.status(id).await.expect("status").state,
        SagaState::Completed
    );
}

#[tokio::test]
async fn cancel_racing_recovery_of_a_saga_at_its_pivot_is_refused() {
    let journal = Journal::new();
    let log = GatedLog::new();
    let config = ExecutorConfig::default().with_owner_id("restarted");
    let def = |pay: &Gate| {
        SagaDefinition::<u32>::builder("pivot-race", 1)
            .compensatable("a", journal.step(), journal.undo())
            .pivot("pay", journal.step().gated(pay))
            .build()
            .expect("valid")
    };
    // The first process dies while the pivot runs: its outcome is in doubt.
    let pay = Gate::new();
    let first = Executor::with_config(def(&pay), log.clone(), config.clone());
    let handle = first.start(0).await.expect("start");
    pay.entered().await;
    handle.abort();
    let id = handle.id();
    assert!(handle.outcome().await.is_err());

    // The restarted process recovers it; a cancel arrives while recovery is still paging.
    let restarted = Executor::with_config(def(&Gate::passing()), log.clone(), config);
    log.claims.hold();
    let recover = restarted.recover();
    let cancel = async {
        log.claims.entered().await; // the first page is claimed
        log.claims.release(1);
        log.claims.entered().await; // the second page is being claimed: the saga is resumed
        let answer = restarted.cancel(id).await;
        log.claims.open();
        answer
    };
    let (report, answer) = in_order(recover, cancel).await;
    let report = report.expect("recover");
    assert!(
        past_pivot(answer),
        "the pivot may have run: cancel must be refused"
    );
    assert_eq!(report.completed, 1, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(
        journal.summary(),
        ["a", "pay", "pay"],
        "the pivot re-ran once"
    );
    assert_eq!(
        restarted.status(id).await.expect("status").state,
        SagaState::Completed
    );
}

#[tokio::test]
async fn two_concurrent_cancels_drive_the_saga_once() {
    let journal = Journal::new();
    let log = GatedLog::new();
    let config = ExecutorConfig::default().with_owner_id("one-owner");
    let def = |undo_b: &Gate| {
        SagaDefinition::<u32>::builder("double-cancel", 1)
            .compensatable("a", journal.step(), journal.undo())
            .compensatable("b", journal.step(), journal.undo().gated(undo_b))
            .pivot("pay", journal.step().refuse("card declined"))
            .build()
            .expect("valid")
    };
    // Abandoned while compensating b.
    let undo_b = Gate::new();
    let first = Executor::with_config(def(&undo_b), log.clone(), config.clone());
    let handle = first.start(0).await.expect("start");
    undo_b.entered().await;
    handle.abort();
    let id: SagaId = handle.id();
    assert!(handle.outcome().await.is_err());
    journal.clear();

    let exec = Executor::with_config(def(&Gate::passing()), log.clone(), config);
    log.loads.hold();
    let both = tokio::join!(exec.cancel(id), exec.cancel(id), async {
        log.loads.entered().await;
        log.loads.open();
    });
    // A compensating saga will compensate: each cancel is accepted, or finds it compensated already.
    for answer in [&both.0, &both.1] {
        assert!(
            matches!(
                answer,
                Ok(())
                    | Err(Error::CancelRefused {
                        reason: CancelRefusal::Finished(SagaState::Compensated),
                        ..
                    })
            ),
            "{both:?}"
        );
    }
    // The saga is finished by exactly one driver, the one the takeover spawned.
    let outcome = exec
        .wait(id)
        .await
        .expect("the takeover's driver finishes it");
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(
        journal.summary(),
        ["undo b", "undo a"],
        "each compensation ran once after the takeover"
    );
}
