//! Participant runtime and reply router: the size limit covers the whole message, and what a message
//! can make them copy is bounded.

mod common;

use saga::transport::TransportExt as _;
use std::sync::Arc;
use std::time::Duration;

use saga::participant::EventPublisher;
use saga::transport::{
    dead_letter_topic, InProcConfig, InProcTransport, Transport, TransportError, DEAD_LETTER_REASON,
};

use common::messages::{
    bad_then_good, bank, command, command_to, fake_participant, fresh_key, refusing_shipping,
    router,
};

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
        .subscribe_durable(&dead_letter_topic("orders"), "ops")
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

/// A transport that carries up to 4 MiB, so the participant's and the router's own 1 MiB limits are
/// what stops a message.
fn roomy() -> InProcTransport {
    InProcTransport::with_config(InProcConfig::default().with_max_message_size(4 * 1024 * 1024))
}

#[tokio::test(start_paused = true)]
async fn a_command_made_large_by_its_headers_is_dead_lettered_before_decoding() {
    let inproc = roomy();
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let bank = bank(&t).await;
    let router = router(&t).await;
    let mut padded = command_to(router.reply_topic(), "debit", "1");
    padded
        .headers
        .insert("padding", "h".repeat(2 * 1024 * 1024))
        .expect("free-form header");
    let mut long_name = command_to(router.reply_topic(), "debit", "1");
    long_name.headers.name = Some(Arc::from("n".repeat(2 * 1024 * 1024)));
    bad_then_good(&t, &router, [padded, long_name]).await;

    assert_eq!(bank.stats().executed, 1, "only the good command ran");
    let dead = inproc.dead_letters();
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert!(d.message.size() > 2 * 1024 * 1024);
        assert!(
            d.reason.ends_with("exceeds the limit of 1048576 bytes"),
            "{}",
            d.reason
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_reply_made_large_by_its_headers_is_dead_lettered_before_routing() {
    let inproc = roomy();
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let router = router(&t).await;
    // A participant that answers with a correct, correlated reply padded with 2 MiB of headers.
    let fake = fake_participant(&t, "fake", |_request, reply| {
        let padding = "h".repeat(2 * 1024 * 1024);
        reply
            .headers
            .insert("padding", padding)
            .expect("free-form header");
    })
    .await;
    let request = command("x", fresh_key(), 1, "{}");
    match router
        .request("fake", request, Duration::from_secs(1))
        .await
    {
        Err(TransportError::Timeout { .. }) => {}
        Ok(reply) => panic!("a reply of {} bytes was accepted", reply.size()),
        Err(e) => panic!("unexpected error {e}"),
    }
    let stats = router.stats();
    assert_eq!((stats.accepted, stats.dead_lettered), (0, 1), "{stats:?}");
    let dead = inproc.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .reason
            .ends_with("exceeds the limit of 1048576 bytes"),
        "{}",
        dead[0].reason
    );
    fake.abort();
}
