//! Participant runtime: deduplication, reply correlation, and bad input.

mod common;

use saga::transport::TransportExt as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{EventPublisher, Participant, ParticipantConfig};
use saga::transport::{
    Headers, InProcConfig, InProcTransport, Message, MessageKind, ReplyStatus, Transport,
    TransportError,
};
use saga::{Direction, IdempotencyKey, SagaId, StepError};
use tokio::sync::mpsc;

use common::messages::{bad_then_good, bank, command, ok_reply, router};

#[tokio::test(start_paused = true)]
async fn a_duplicate_command_gets_the_stored_reply_without_a_second_execution() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let runs = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&runs);
    let inventory = Participant::builder("inventory", Arc::clone(&t))
        .command("reserve", move |_ctx, qty: u32| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if qty > 5 {
                    Err(StepError::permanent("out of stock"))
                } else {
                    Ok(format!("reservation-{n}"))
                }
            }
        })
        .spawn()
        .await
        .expect("participant");
    let router = router(&t).await;
    let timeout = Duration::from_secs(5);

    let key = IdempotencyKey::new(SagaId::new(), 0, Direction::Forward);
    let first = router
        .request("inventory", command("reserve", key, 1, "2"), timeout)
        .await
        .expect("reply");
    let again = router
        .request("inventory", command("reserve", key, 2, "2"), timeout)
        .await
        .expect("reply to the retry");
    assert_eq!(first.headers.status, Some(ReplyStatus::Ok));
    assert_eq!(first.payload, again.payload, "the same reply is re-sent");
    assert_eq!(&first.payload[..], b"\"reservation-0\"");
    assert_eq!(again.headers.attempt, Some(2), "correlated to the retry");

    // A business "no" is recorded too: the duplicate gets the same "no".
    let no = IdempotencyKey::new(SagaId::new(), 0, Direction::Forward);
    for attempt in 1..=2 {
        let reply = router
            .request("inventory", command("reserve", no, attempt, "9"), timeout)
            .await
            .expect("reply");
        assert_eq!(reply.headers.status, Some(ReplyStatus::Rejected));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2, "one execution per key");
    let stats = inventory.stats();
    assert_eq!((stats.executed, stats.duplicates), (2, 2));
    inventory.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn replies_are_accepted_once_and_only_by_their_request() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let router = router(&t).await;
    // A fake participant that answers every command twice, plus a stray reply.
    let mut commands = t
        .subscribe_durable("fake", "fake")
        .await
        .expect("subscribe");
    let replier = Arc::clone(&t);
    let fake = tokio::spawn(async move {
        while let Some(Ok(d)) = commands.next().await {
            let req = d.message().headers.clone();
            let Some(reply_to) = req.reply_to.clone() else {
                continue;
            };
            for _ in 0..2 {
                let mut reply = ok_reply(&req, "1");
                reply.headers.message_id = saga::transport::MessageId::new();
                replier.publish(&reply_to, reply).await.expect("reply");
            }
            let mut stray = Headers::new(MessageKind::Reply);
            stray.correlation_id = Some(saga::transport::MessageId::new());
            stray.status = Some(ReplyStatus::Ok);
            replier
                .publish(&reply_to, Message::with_headers(stray, "2"))
                .await
                .expect("stray");
            d.ack().await.expect("ack");
        }
    });
    let key = IdempotencyKey::new(SagaId::new(), 1, Direction::Forward);
    let reply = router
        .request("fake", command("x", key, 1, "{}"), Duration::from_secs(5))
        .await
        .expect("reply");
    assert_eq!(&reply.payload[..], b"1");
    // Replies are routed in order, so once a later request is answered the duplicates were seen.
    let later = IdempotencyKey::new(SagaId::new(), 1, Direction::Forward);
    router
        .request("fake", command("x", later, 1, "{}"), Duration::from_secs(5))
        .await
        .expect("reply");
    let stats = router.stats();
    assert_eq!(stats.accepted, 2);
    assert!(
        stats.dropped + stats.early >= 2,
        "duplicates and strays not accepted (kept for a request that never comes): {stats:?}"
    );
    assert_eq!(router.pending(), 0);
    fake.abort();
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_after_a_timeout_is_dropped() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let router = router(&t).await;
    let mut commands = t
        .subscribe_durable("slow", "slow")
        .await
        .expect("subscribe");
    let key = IdempotencyKey::new(SagaId::new(), 0, Direction::Forward);
    let err = router
        .request("slow", command("x", key, 1, "{}"), Duration::from_secs(1))
        .await
        .expect_err("no reply in time");
    assert!(matches!(err, TransportError::Timeout { .. }));
    assert_eq!(router.pending(), 0, "the timed-out request is forgotten");
    let d = commands.next().await.expect("open").expect("command");
    let req = d.message().headers.clone();
    let mut h = Headers::new(MessageKind::Reply);
    h.set_idempotency_key(key);
    h.attempt = req.attempt;
    h.correlation_id = Some(req.message_id);
    h.status = Some(ReplyStatus::Ok);
    t.publish(router.reply_topic(), Message::with_headers(h, "1"))
        .await
        .expect("late reply");
    // A fresh request answered by nobody times out; by then the late reply has been routed.
    let other = IdempotencyKey::new(SagaId::new(), 0, Direction::Forward);
    let _ = router
        .request("slow", command("x", other, 1, "{}"), Duration::from_secs(1))
        .await;
    assert_eq!(
        router.stats().early,
        1,
        "kept for a re-issue of that attempt, which never comes"
    );
    assert_eq!(router.stats().accepted, 0);
}

#[tokio::test(start_paused = true)]
async fn oversized_and_malformed_commands_are_dead_lettered_while_others_flow() {
    let inproc = InProcTransport::with_config(
        InProcConfig::default().with_max_message_size(4 * 1024 * 1024),
    );
    let t: Arc<dyn Transport> = Arc::new(inproc.clone());
    let participant = bank(&t).await;
    let router = router(&t).await;
    let key = || IdempotencyKey::new(SagaId::new(), 0, Direction::Forward);
    let with_reply_to = |mut m: Message| {
        m.headers.reply_to = Some(Arc::from(router.reply_topic()));
        m
    };
    let huge = "9".repeat(2 * 1024 * 1024);
    let bad = [
        with_reply_to(command("debit", key(), 1, &huge)),
        with_reply_to(command("debit", key(), 1, "{not json")),
        with_reply_to(command("steal", key(), 1, "1")),
        command("debit", key(), 1, "1"), // no reply-to
        with_reply_to(Message::new(MessageKind::Event, "1")),
    ];
    bad_then_good(&t, &router, bad).await;

    let reasons: Vec<String> = inproc
        .dead_letters()
        .into_iter()
        .map(|d| d.reason.clone())
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(
        reasons[0].contains("exceeds the limit of 1048576 bytes"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].starts_with("malformed command"),
        "{}",
        reasons[1]
    );
    assert!(reasons[2].contains("no handler"), "{}", reasons[2]);
    assert!(reasons[3].contains("reply-to"), "{}", reasons[3]);
    assert!(reasons[4].contains("expected a command"), "{}", reasons[4]);
    assert_eq!(participant.stats().dead_lettered, 5);
    assert_eq!(participant.stats().executed, 1);
}

#[tokio::test(start_paused = true)]
async fn events_are_handled_once_per_event_id_and_fan_out_to_groups() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OrderCreated {
        order: u32,
    }
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut participants = Vec::new();
    for name in ["inventory", "payment"] {
        let tx = seen_tx.clone();
        let p = Participant::builder(name, Arc::clone(&t))
            .with_config(ParticipantConfig::default().with_concurrency(1))
            .event("orders.created", move |ctx, e: OrderCreated| {
                let tx = tx.clone();
                async move {
                    ctx.publish("stock.reserved", &e.order)
                        .await
                        .map_err(|err| StepError::transient("publish failed").with_source(err))?;
                    let _ = tx.send((name, e.order));
                    Ok(())
                }
            })
            .spawn()
            .await
            .expect("participant");
        participants.push(p);
    }
    let mut follow_ups = t
        .subscribe_durable("stock.reserved", "audit")
        .await
        .expect("subscribe");
    let publisher = EventPublisher::new(Arc::clone(&t));
    let saga = SagaId::new();
    let id = publisher
        .publish("orders.created", Some(saga), &OrderCreated { order: 1 })
        .await
        .expect("publish");
    publisher
        .publish_with_id("orders.created", id, Some(saga), &OrderCreated { order: 1 })
        .await
        .expect("duplicate");
    publisher
        .publish("orders.created", Some(saga), &OrderCreated { order: 2 })
        .await
        .expect("publish");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seen.recv().await.expect("handled"));
    }
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            ("inventory", 1),
            ("inventory", 2),
            ("payment", 1),
            ("payment", 2)
        ]
    );
    for p in &participants {
        assert_eq!(
            p.stats().duplicates,
            1,
            "{} skipped the duplicate",
            p.name()
        );
    }
    // Follow-up events carry the saga id, and ids derived from the triggering event.
    let d = follow_ups.next().await.expect("open").expect("follow-up");
    assert_eq!(d.message().headers.saga_id, Some(saga));
    assert_ne!(d.message().headers.message_id, id);
}
