//! `cancel` is accepted only when the saga will compensate, and one saga never gets two drivers
//! (hardening: cancel accepted but ignored; cancel during an operator retry or a recovery at the pivot;
//! concurrent cancels).

mod common;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{gated, ok_step, undo, Calls, GatedLog};
use saga::{
    compensation_fn, step_fn, CancelRefusal, Error, Executor, ExecutorConfig, RetryPolicy,
    SagaDefinition, SagaId, SagaState, StepContext, StepError, StepSpec,
};
use tokio::sync::{Notify, Semaphore};

/// A compensation that records its call, signals `entered` and waits for a permit of `gate`.
fn gated_undo(
    calls: &Calls,
    name: &'static str,
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
) -> impl saga::Compensation<u32> {
    let calls = calls.clone();
    compensation_fn(move |_: StepContext, _: u32| {
        let (calls, entered, gate) = (calls.clone(), entered.clone(), gate.clone());
        async move {
            calls.lock().push(format!("undo {name}"));
            entered.notify_one();
            gate.acquire()
                .await
                .map_err(|_| StepError::transient("gate closed"))?
                .forget();
            Ok::<_, StepError>(())
        }
    })
}

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
    let c = Calls::default();
    let entered = Arc::new(Notify::new());
    let gate = Arc::new(Semaphore::new(0));
    let def = SagaDefinition::builder("no-pivot", 1)
        .compensatable("a", ok_step(&c, "a"), undo(&c, "a"))
        .compensatable(
            "b",
            gated(&c, "b", entered.clone(), gate.clone()),
            undo(&c, "b"),
        )
        .build()
        .expect("valid");
    let exec = Executor::new(def, GatedLog::new());
    let handle = exec.start(0).await.expect("start");
    entered.notified().await;
    exec.cancel(handle.id())
        .await
        .expect("the last step has not completed: cancel is accepted");
    gate.add_permits(1);
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(
        outcome.state,
        SagaState::Compensated,
        "an accepted cancel compensates"
    );
    assert_eq!(*c.lock(), ["a", "b", "undo b", "undo a"]);

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

/// A definition whose pivot hangs (and so times out) until `healthy` is set.
fn flaky_pivot_saga(c: &Calls, healthy: Arc<AtomicU32>) -> SagaDefinition<u32> {
    let pivot = {
        let c = c.clone();
        step_fn(move |_: StepContext, n: u32| {
            let (c, healthy) = (c.clone(), healthy.clone());
            async move {
                c.lock().push("pay".into());
                if healthy.load(Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, StepError>(n + 1)
            }
        })
    };
    SagaDefinition::builder("stuck-pivot", 1)
        .compensatable("a", ok_step(c, "a"), undo(c, "a"))
        .step(
            StepSpec::pivot("pay", pivot)
                .with_timeout(Duration::from_secs(1))
                .with_retry(RetryPolicy::default().with_max_attempts(1)),
        )
        .retriable("ship", ok_step(c, "ship"))
        .build()
        .expect("valid")
}

#[tokio::test(start_paused = true)]
async fn cancel_during_an_operator_retry_of_a_stuck_pivot_is_refused_and_recovery_stays_healthy() {
    let c = Calls::default();
    let healthy = Arc::new(AtomicU32::new(0));
    let log = GatedLog::new();
    let exec = Executor::new(flaky_pivot_saga(&c, healthy.clone()), log.clone());
    let outcome = exec.run(0).await.expect("run");
    assert_eq!(
        outcome.state,
        SagaState::Stuck,
        "a pivot with an unknown outcome parks"
    );
    let id = outcome.id;

    healthy.store(1, Ordering::SeqCst);
    log.appends.arm();
    let retry = tokio::spawn({
        let exec = exec.clone();
        async move { exec.retry(id).await }
    });
    log.appends.entered().await; // the retry's first write is in progress
    assert!(
        past_pivot(exec.cancel(id).await),
        "a saga past its pivot refuses cancel"
    );
    log.appends.disarm();
    log.appends.release(1);
    let retried = retry.await.expect("join").expect("operator retry");
    assert_eq!(retried.state, SagaState::Completed);
    assert_eq!(*c.lock(), ["a", "pay", "pay", "ship"]);

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
    let c = Calls::default();
    let entered = Arc::new(Notify::new());
    let log = GatedLog::new();
    let config = ExecutorConfig::default().with_owner_id("restarted");
    let def = |gate: Arc<Semaphore>| {
        SagaDefinition::builder("pivot-race", 1)
            .compensatable("a", ok_step(&c, "a"), undo(&c, "a"))
            .pivot("pay", gated(&c, "pay", entered.clone(), gate))
            .build()
            .expect("valid")
    };
    // The first process dies while the pivot runs: its outcome is in doubt.
    let first = Executor::with_config(
        def(Arc::new(Semaphore::new(0))),
        log.clone(),
        config.clone(),
    );
    let handle = first.start(0).await.expect("start");
    entered.notified().await;
    handle.abort();
    let id = handle.id();
    assert!(handle.outcome().await.is_err());

    // The restarted process recovers it; a cancel arrives while recovery is still paging.
    let restarted = Executor::with_config(def(Arc::new(Semaphore::new(1))), log.clone(), config);
    log.claims.arm();
    let recover = restarted.recover();
    let cancel = async {
        log.claims.entered().await; // the first page is claimed
        log.claims.release(1);
        log.claims.entered().await; // the second page is being claimed: the saga is resumed
        let answer = restarted.cancel(id).await;
        log.claims.disarm();
        log.claims.release(1);
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
    assert_eq!(*c.lock(), ["a", "pay", "pay"], "the pivot re-ran once");
    assert_eq!(
        restarted.status(id).await.expect("status").state,
        SagaState::Completed
    );
}

#[tokio::test]
async fn two_concurrent_cancels_drive_the_saga_once() {
    let c = Calls::default();
    let entered = Arc::new(Notify::new());
    let log = GatedLog::new();
    let config = ExecutorConfig::default().with_owner_id("one-owner");
    let refuse = || {
        step_fn(|_: StepContext, _: u32| async {
            Err::<u32, _>(StepError::permanent("card declined"))
        })
    };
    let def = |gate: Arc<Semaphore>| {
        SagaDefinition::builder("double-cancel", 1)
            .compensatable("a", ok_step(&c, "a"), undo(&c, "a"))
            .compensatable(
                "b",
                ok_step(&c, "b"),
                gated_undo(&c, "b", entered.clone(), gate),
            )
            .pivot("pay", refuse())
            .build()
            .expect("valid")
    };
    // Abandoned while compensating b.
    let first = Executor::with_config(
        def(Arc::new(Semaphore::new(0))),
        log.clone(),
        config.clone(),
    );
    let handle = first.start(0).await.expect("start");
    entered.notified().await;
    handle.abort();
    let id: SagaId = handle.id();
    assert!(handle.outcome().await.is_err());
    c.lock().clear();

    let exec = Executor::with_config(def(Arc::new(Semaphore::new(8))), log.clone(), config);
    log.loads.arm();
    let both = tokio::join!(exec.cancel(id), exec.cancel(id), async {
        log.loads.entered().await;
        log.loads.disarm();
        log.loads.release(2);
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
        *c.lock(),
        ["undo b", "undo a"],
        "each compensation ran once after the takeover"
    );
}
