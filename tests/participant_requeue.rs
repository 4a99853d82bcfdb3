//! A message that failed transiently waits for its retry in the transport, not in the participant: it
//! holds no concurrency slot meanwhile, so other messages keep flowing.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::participant::{EventPublisher, Participant, ParticipantConfig};
use saga::transport::{InProcTransport, Transport};
use saga::StepError;
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn a_delayed_retry_holds_no_slot_of_a_participant_with_concurrency_one() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let (handled_tx, mut handled) = mpsc::unbounded_channel::<(String, tokio::time::Instant)>();
    let failed_once = Arc::new(Mutex::new(false));
    let participant = Participant::builder("audit", Arc::clone(&t))
        .with_config(ParticipantConfig::default().with_concurrency(1))
        .event("orders", {
            let failed_once = Arc::clone(&failed_once);
            move |_ctx, name: String| {
                let (handled_tx, failed_once) = (handled_tx.clone(), Arc::clone(&failed_once));
                async move {
                    if name == "slow" && !std::mem::replace(&mut *failed_once.lock(), true) {
                        return Err(
                            StepError::transient("busy").with_retry_after(Duration::from_secs(60))
                        );
                    }
                    let _ = handled_tx.send((name, tokio::time::Instant::now()));
                    Ok(())
                }
            }
        })
        .spawn()
        .await
        .expect("spawn");
    let start = tokio::time::Instant::now();
    let publisher = EventPublisher::new(Arc::clone(&t));
    publisher
        .publish("orders", None, "slow")
        .await
        .expect("publish");
    publisher
        .publish("orders", None, "fast")
        .await
        .expect("publish");

    let (first, at) = handled.recv().await.expect("an event handled");
    assert_eq!(
        first, "fast",
        "the retry of the failed event does not block the next one"
    );
    assert!(
        at - start < Duration::from_secs(60),
        "the other event was handled before the retry delay ran out"
    );
    let (second, at) = handled.recv().await.expect("the retry");
    assert_eq!(second, "slow");
    assert!(
        at - start >= Duration::from_secs(60),
        "the retry waited for its delay"
    );
    assert_eq!(participant.stats().requeued, 1);
    participant.shutdown().await;
}
