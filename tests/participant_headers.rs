//! Participant runtime and reply router: a message whose saga headers (saga id, step, direction) are
//! incomplete or disagree is dead-lettered with a bounded reason, never handled, and does not hold up the
//! messages behind it. One test per shape.

mod common;

use saga::transport::TransportExt as _;
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{EventPublisher, Participant, ParticipantConfig};
use saga::transport::{
    dead_letter_topic, Headers, InProcTransport, Message, MessageKind, Transport, TransportError,
};
use saga::{Direction, SagaId, StepError};
use tokio::sync::mpsc;

use common::messages::{bad_then_good, bank, command, command_to, fake_participant, router};

/// Sends the bank a `debit` whose headers `edit` breaks, then a good one; returns the dead-letter reason.
async fn dead_lettered_command(edit: impl FnOnce(&mut Headers)) -> String {
    let inproc = InProcTransport::new();
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let bank = bank(&t).await;
    let router = router(&t).await;
    let mut bad = command_to(router.reply_topic(), "debit", "1");
    edit(&mut bad.headers);
    bad_then_good(&t, &router, [bad]).await;
    assert_eq!(bank.stats().executed, 1, "only the good command ran");
    assert_eq!(bank.stats().dead_lettered, 1);
    let dead = inproc.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.len() <= 256);
    dead[0].reason.clone()
}

#[tokio::test(start_paused = true)]
async fn a_command_with_a_step_but_no_direction_is_dead_lettered() {
    let reason = dead_lettered_command(|h| h.direction = None).await;
    assert!(
        reason.contains("saga-step without saga-direction"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_with_a_direction_but_no_step_is_dead_lettered() {
    let reason = dead_lettered_command(|h| h.step = None).await;
    assert!(
        reason.contains("saga-direction without saga-step"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_command_with_a_step_and_direction_but_no_saga_id_is_dead_lettered() {
    let reason = dead_lettered_command(|h| h.saga_id = None).await;
    assert!(reason.contains("without saga-id"), "{reason}");
}

/// Publishes an event on `orders` whose headers `edit` breaks, then a good one; checks that only the good
/// one is handled and returns the bad one's dead-letter reason.
async fn dead_lettered_event(edit: impl FnOnce(&mut Headers)) -> String {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let mut dead = t
        .subscribe_durable(&dead_letter_topic("orders"), "ops")
        .await
        .expect("subscribe");
    let (handled, mut seen) = mpsc::unbounded_channel();
    let _shipping = Participant::builder("shipping", Arc::clone(&t))
        .with_config(ParticipantConfig::default().with_concurrency(1))
        .event("orders", move |_ctx, order: String| {
            let _ = handled.send(order);
            async { Ok::<_, StepError>(()) }
        })
        .spawn()
        .await
        .expect("participant");
    let mut h = Headers::new(MessageKind::Event);
    h.saga_id = Some(SagaId::new());
    edit(&mut h);
    let bad = Message::with_headers(h, "\"bad\"");
    t.publish("orders", bad).await.expect("publish");
    EventPublisher::new(Arc::clone(&t))
        .publish("orders", Some(SagaId::new()), "good")
        .await
        .expect("publish");
    assert_eq!(
        seen.recv().await.as_deref(),
        Some("good"),
        "the bad event ran"
    );
    let d = dead.next().await.expect("open").expect("dead letter");
    assert_eq!(&d.message().payload[..], b"\"bad\"");
    let reason = d.message().headers.dead_letter_reason().expect("reason");
    assert!(reason.len() <= 256);
    reason.to_owned()
}

#[tokio::test(start_paused = true)]
async fn an_event_with_a_step_but_no_direction_is_never_handled() {
    let reason = dead_lettered_event(|h| h.step = Some(1)).await;
    assert!(
        reason.contains("saga-step without saga-direction"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_event_with_a_step_and_direction_but_no_saga_id_is_never_handled() {
    let reason = dead_lettered_event(|h| {
        h.saga_id = None;
        h.step = Some(1);
        h.direction = Some(Direction::Forward);
    })
    .await;
    assert!(reason.contains("without saga-id"), "{reason}");
}

/// Sends a request the fake participant answers badly, then one it answers well.
async fn bad_then_good_reply(
    t: &Arc<dyn Transport>,
    bad: Message,
) -> saga::participant::RouterStats {
    let router = router(t).await;
    let wait = Duration::from_secs(1);
    match router.request("fake", bad, wait).await {
        Err(TransportError::Timeout { .. }) => {}
        other => panic!("the bad reply was accepted: {:?}", other.map(|m| m.headers)),
    }
    let good = command("good", common::messages::fresh_key(), 1, "{}");
    router
        .request("fake", good, wait)
        .await
        .expect("good reply");
    router.stats()
}

#[tokio::test(start_paused = true)]
async fn a_reply_with_a_step_but_no_direction_is_dead_lettered() {
    let inproc = InProcTransport::new();
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let fake = fake_participant(&t, "fake", |request, reply| {
        if request.name.as_deref() == Some("bad") {
            reply.headers.direction = None;
        }
    })
    .await;
    let bad = command("bad", common::messages::fresh_key(), 1, "{}");
    let stats = bad_then_good_reply(&t, bad).await;
    assert_eq!((stats.accepted, stats.dead_lettered), (1, 1), "{stats:?}");
    let dead = inproc.dead_letters();
    assert_eq!(dead.len(), 1);
    let reason = &dead[0].reason;
    assert!(
        reason.contains("saga-step without saga-direction"),
        "{reason}"
    );
    fake.abort();
}

#[tokio::test(start_paused = true)]
async fn a_reply_of_another_saga_is_refused_when_the_request_names_only_its_saga() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let fake = fake_participant(&t, "fake", |request, reply| {
        if request.name.as_deref() == Some("bad") {
            reply.headers.saga_id = Some(SagaId::new());
        }
    })
    .await;
    let mut bad = Message::new(MessageKind::Command, "{}");
    bad.headers.name = Some(Arc::from("bad"));
    bad.headers.saga_id = Some(SagaId::new());
    let stats = bad_then_good_reply(&t, bad).await;
    assert_eq!((stats.accepted, stats.dropped), (1, 1), "{stats:?}");
    fake.abort();
}
