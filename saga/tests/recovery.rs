//! `recover()` accounts for every saga it finds, and a corrupt saga is reported and skipped, never fatal
//! (hardening: out-of-range stored numbers, panicking and superseded drivers).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::GatedLog;
use saga::log::{Append, LogEvent, NewSaga, SagaLog};
use saga::testing::{Gate, Journal};
use saga::{
    compensation_fn, step_fn, Error, Executor, ExecutorConfig, InMemoryLog, SagaDefinition, SagaId,
    SagaState, StepContext, StepError,
};

const TTL: Duration = Duration::from_secs(30);

fn two_steps(name: &'static str) -> SagaDefinition<u32> {
    SagaDefinition::builder(name, 1)
        .compensatable(
            "a",
            step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n + 1) }),
            compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) }),
        )
        .compensatable(
            "b",
            step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n + 1) }),
            compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) }),
        )
        .build()
        .expect("valid")
}

/// Writes a saga straight into the log, as a crashed executor (or a tampered row) would have left it.
async fn plant(log: &dyn SagaLog, definition: &str, owner: &str, events: &[LogEvent]) -> SagaId {
    let id = SagaId::new();
    let lease = log
        .create(NewSaga::new(
            id,
            definition,
            1,
            Bytes::from_static(b"0"),
            owner,
            Duration::ZERO,
        ))
        .await
        .expect("create");
    if !events.is_empty() {
        log.append(Append::new(
            id,
            1,
            lease,
            SagaState::Running,
            events,
            Duration::ZERO,
        ))
        .await
        .expect("append");
    }
    id
}

#[tokio::test]
async fn an_attempt_at_u32_max_is_reported_corrupt_and_the_other_sagas_resume() {
    let log = Arc::new(InMemoryLog::new());
    let exec = Executor::new(two_steps("overflow"), log.clone());
    let retrying = plant(
        &*log,
        "overflow",
        "dead",
        &[LogEvent::StepRetrying {
            step: 0,
            attempt: u32::MAX,
            error: "boom".into(),
        }],
    )
    .await;
    let healthy = plant(&*log, "overflow", "dead", &[]).await;

    let err = exec
        .status(retrying)
        .await
        .expect_err("status of a corrupt saga");
    assert!(
        matches!(err, Error::InconsistentLog { saga_id, .. } if saga_id == retrying),
        "{err:?}"
    );

    let report = exec.recover().await.expect("recover");
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert_eq!(report.corrupt[0].id, retrying);
    assert!(
        report.corrupt[0].reason.contains("attempt"),
        "{:?}",
        report.corrupt[0]
    );
    assert_eq!(report.found(), 2, "every saga is accounted for");
    assert_eq!(
        exec.status(healthy).await.expect("status").state,
        SagaState::Completed
    );
}

#[tokio::test]
async fn a_compensation_attempt_at_u32_max_and_an_abort_past_the_pivot_are_corrupt() {
    let log = Arc::new(InMemoryLog::new());
    let def = SagaDefinition::builder("bad-compensation", 1)
        .compensatable(
            "a",
            step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n) }),
            compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) }),
        )
        .pivot(
            "pay",
            step_fn(|_: StepContext, n: u32| async move { Ok::<_, StepError>(n) }),
        )
        .build()
        .expect("valid");
    let exec = Executor::new(def, log.clone());
    let data = Bytes::from_static(b"0");
    let compensating = plant(
        &*log,
        "bad-compensation",
        "dead",
        &[
            LogEvent::StepCompleted {
                step: 0,
                attempt: 1,
                data: data.clone(),
            },
            LogEvent::StepRefused {
                step: 1,
                attempt: 1,
                error: "no".into(),
            },
            LogEvent::CompensationRetrying {
                step: 0,
                attempt: u32::MAX,
                error: "x".into(),
            },
        ],
    )
    .await;
    // What an earlier version wrote when a cancel won against an in-doubt pivot.
    let past_pivot = plant(
        &*log,
        "bad-compensation",
        "dead",
        &[
            LogEvent::StepCompleted {
                step: 0,
                attempt: 1,
                data,
            },
            LogEvent::Aborted {
                reason: saga::log::AbortReason::Cancelled,
                steps: 2,
            },
        ],
    )
    .await;
    let report = exec.recover().await.expect("recover");
    let mut corrupt: Vec<SagaId> = report.corrupt.iter().map(|c| c.id).collect();
    corrupt.sort();
    let mut expected = vec![compensating, past_pivot];
    expected.sort();
    assert_eq!(corrupt, expected, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    // A later pass reports them again instead of failing.
    assert_eq!(exec.recover().await.expect("recover").corrupt.len(), 2);
}

#[tokio::test]
async fn a_driver_that_panics_on_recovered_data_is_reported_failed() {
    let log = Arc::new(InMemoryLog::new());
    let panicking = SagaDefinition::builder("panics", 1)
        .compensatable(
            "a",
            step_fn(|_: StepContext, n: u32| async move {
                assert!(n != 0, "a user step that cannot handle this data");
                Ok::<_, StepError>(n)
            }),
            compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) }),
        )
        .build()
        .expect("valid");
    let id = plant(&*log, "panics", "dead", &[]).await;
    let report = Executor::new(panicking, log)
        .recover()
        .await
        .expect("recover");
    assert_eq!(report.found(), 1, "{report:?}");
    assert!(
        matches!(report.failed.as_slice(), [(failed, Error::DriverPanicked { .. })] if *failed == id),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_saga_finished_by_its_own_driver_during_recovery_is_reported_superseded() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let log = GatedLog::new();
    let def = SagaDefinition::<u32>::builder("superseded", 1)
        .compensatable("a", journal.step().gated(&gate), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::with_config(
        def,
        log.clone(),
        ExecutorConfig::default()
            .with_owner_id("stable")
            .with_lease_ttl(TTL),
    );
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;

    // Recovery claims the running saga (same owner: same lease) ...
    log.claimed.hold();
    let recover = tokio::spawn({
        let exec = exec.clone();
        async move { exec.recover().await }
    });
    log.claimed.entered().await;
    // ... its driver finishes it before recovery resumes it from the claimed snapshot ...
    gate.open();
    let outcome = handle.outcome().await.expect("outcome");
    assert_eq!(outcome.state, SagaState::Completed);
    log.claimed.open();
    // ... so the resumed driver's first write conflicts: superseded, and accounted for.
    let report = recover.await.expect("join").expect("recover");
    assert_eq!(report.superseded, [outcome.id], "{report:?}");
    assert_eq!(report.found(), 1, "{report:?}");
    assert_eq!(
        exec.status(outcome.id).await.expect("status").state,
        SagaState::Completed
    );
}
