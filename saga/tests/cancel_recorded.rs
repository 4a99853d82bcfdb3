//! `cancel` is accepted by the live driver and recorded at its next step boundary, so a crash in
//! between loses it (found by the model test; `docs/contract.md`). `cancel_recorded` returns only once
//! the abort is in the log, so the cancel survives the crash.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use saga::testing::{Gate, Journal};
use saga::{Executor, ExecutorConfig, InMemoryLog, SagaDefinition, SagaId, SagaLog, SagaState};

/// Steps `a` and `b`, both compensatable; `b` waits at `gate` when one is given.
fn definition(journal: &Journal, gate: Option<&Gate>) -> SagaDefinition<u32> {
    let b = match gate {
        Some(gate) => journal.step().gated(gate),
        None => journal.step(),
    };
    SagaDefinition::<u32>::builder("cancel-recorded", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", b, journal.undo())
        .build()
        .expect("valid")
}

fn config() -> ExecutorConfig {
    ExecutorConfig::default().with_owner_id("the-one-process")
}

async fn state(log: &InMemoryLog, id: SagaId) -> SagaState {
    log.load(id)
        .await
        .expect("load")
        .expect("the saga is in the log")
        .instance
        .state
}

/// Whether `fut` is still pending after the runtime had `turns` chances to run everything else.
async fn still_pending<F: Future>(mut fut: std::pin::Pin<&mut F>, turns: usize) -> bool {
    for _ in 0..turns {
        if poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await {
            return false;
        }
        tokio::task::yield_now().await;
    }
    true
}

/// The process "crashes" (its driver is aborted) and restarts with the same owner id; returns how the
/// saga ends once the restarted executor recovered it.
async fn crash_and_recover(
    log: &Arc<InMemoryLog>,
    journal: &Journal,
    handle: saga::SagaHandle<u32>,
) -> SagaState {
    let id = handle.id();
    handle.abort();
    let _ = handle.outcome().await;
    let restarted = Executor::with_config(definition(journal, None), log.clone(), config());
    let report = restarted.recover().await.expect("recover");
    assert!(report.failed.is_empty(), "{report:?}");
    state(log, id).await
}

#[tokio::test]
async fn cancel_recorded_returns_once_the_abort_is_in_the_log() {
    let (journal, gate) = (Journal::new(), Gate::new());
    let log = Arc::new(InMemoryLog::new());
    let exec = Executor::with_config(definition(&journal, Some(&gate)), log.clone(), config());
    let handle = exec.start(0).await.expect("start");
    let id = handle.id();
    gate.entered().await;
    let mut cancel = pin!(exec.cancel_recorded(id));
    assert!(
        still_pending(cancel.as_mut(), 20).await,
        "returned while step b still runs, before the abort could be written"
    );
    assert_eq!(state(&log, id).await, SagaState::Running);
    gate.release(1);
    cancel.await.expect("cancel before the pivot");
    assert!(
        matches!(
            state(&log, id).await,
            SagaState::Compensating | SagaState::Compensated
        ),
        "the abort is in the log when cancel_recorded returns"
    );
    assert_eq!(
        handle.outcome().await.expect("outcome").state,
        SagaState::Compensated
    );
}

#[tokio::test]
async fn a_recorded_cancel_survives_a_crash_where_an_accepted_one_is_lost() {
    // `cancel`: accepted while b runs, then the process dies before b returns.
    let (journal, gate) = (Journal::new(), Gate::new());
    let log = Arc::new(InMemoryLog::new());
    let exec = Executor::with_config(definition(&journal, Some(&gate)), log.clone(), config());
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    exec.cancel(handle.id()).await.expect("accepted");
    assert_eq!(
        crash_and_recover(&log, &journal, handle).await,
        SagaState::Completed,
        "cancel documents this: an accepted cancel not yet recorded is lost with its driver"
    );

    // `cancel_recorded`: the same, but the crash comes after it returned.
    let (journal, gate) = (Journal::new(), Gate::new());
    let log = Arc::new(InMemoryLog::new());
    let exec = Executor::with_config(definition(&journal, Some(&gate)), log.clone(), config());
    let handle = exec.start(0).await.expect("start");
    gate.entered().await;
    let id = handle.id();
    let cancelling = {
        let exec = exec.clone();
        tokio::spawn(async move { exec.cancel_recorded(id).await })
    };
    gate.release(1);
    cancelling.await.expect("task").expect("recorded");
    assert_eq!(
        crash_and_recover(&log, &journal, handle).await,
        SagaState::Compensated,
        "a recorded cancel survives the crash"
    );
}
