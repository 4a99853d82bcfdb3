//! A transport that goes away under a remote step leaves the step's outcome open: it is retried and
//! then takes the unknown-outcome path; it is never recorded as a business refusal.

use std::sync::Arc;

use saga::participant::{ReplyRouter, RouterConfig};
use saga::transport::{InProcTransport, Transport};
use saga::{EventKind, Executor, InMemoryLog, SagaDefinition, SagaState};

#[tokio::test(start_paused = true)]
async fn a_closed_transport_is_not_a_refusal() {
    let inproc = Arc::new(InProcTransport::new());
    let transport: Arc<dyn Transport> = inproc.clone();
    let router = ReplyRouter::start(transport, RouterConfig::default())
        .await
        .expect("router");
    let def = SagaDefinition::<u64>::builder("down", 1)
        .compensatable(
            "debit",
            router.step("bank", "debit", |c: &u64| *c, |_d: &mut u64, _r: u64| {}),
            router.compensation("bank", "credit", |c: &u64| *c),
        )
        .build()
        .expect("valid");
    inproc.close();
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let outcome = exec
        .run(250)
        .await
        .expect("the saga runs to a parked state");
    let status = exec.status(outcome.id).await.expect("status");
    let events: Vec<EventKind> = status.history.iter().map(|h| h.event).collect();
    assert!(!events.contains(&EventKind::StepRefused), "{events:?}");
    assert!(events.contains(&EventKind::StepRetrying), "{events:?}");
    assert!(events.contains(&EventKind::StepUnknown), "{events:?}");
    // The compensation cannot be sent either: the saga waits for an operator instead of failing.
    assert_eq!(outcome.state, SagaState::Stuck);
}
