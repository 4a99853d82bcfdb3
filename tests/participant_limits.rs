//! Participant runtime and reply router: what a message can make them copy is bounded.

mod common;

use std::sync::Arc;

use saga::participant::EventPublisher;
use saga::transport::{dead_letter_topic, InProcTransport, Transport, DEAD_LETTER_REASON};

use common::messages::{bad_then_good, bank, command_to, refusing_shipping, router};

/// The contract: a dead-letter reason is at most 256 bytes and ends with `…` when it was cut.
fn assert_bounded(reason: &str, starts_with: &str) {
    assert!(reason.len() <= 256, "{} bytes: {reason:.80}", reason.len());
    assert!(reason.ends_with('…'), "no cut marker: {reason:.80}");
    assert!(reason.starts_with(starts_with), "{reason:.80}");
}

#[tokio::test(start_paused = true)]
async fn dead_letter_reasons_quoting_a_command_are_bounded() {
    let inproc = InProcTransport::new();
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let _bank = bank(&t).await;
    let router = router(&t).await;
    let long_name = "n".repeat(10 * 1024);
    let long_string = format!("\"{}\"", "s".repeat(10 * 1024));
    let replies = router.reply_topic();
    let bad = [
        command_to(replies, &long_name, "1"),
        command_to(replies, "debit", &long_string),
    ];
    bad_then_good(&t, &router, bad).await;

    let dead = inproc.dead_letters();
    assert_eq!(dead.len(), 2);
    assert_bounded(&dead[0].reason, "no handler for command \"nnn");
    assert_bounded(
        &dead[1].reason,
        "malformed command \"debit\": invalid type: string \"sss",
    );
    for d in &dead {
        assert_eq!(
            d.message.headers.get(DEAD_LETTER_REASON),
            Some(d.reason.as_str())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_event_refusal_reason_is_bounded() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let mut dead = t
        .subscribe(&dead_letter_topic("orders"), "ops")
        .await
        .expect("subscribe");
    let _shipping = refusing_shipping(&t).await;
    EventPublisher::new(Arc::clone(&t))
        .publish("orders", None, &"o".repeat(10 * 1024))
        .await
        .expect("publish");
    let d = dead.next().await.expect("open").expect("dead letter");
    let reason = d.message().headers.dead_letter_reason().expect("reason");
    assert_bounded(reason, "event handler refused: no carrier for ooo");
}
