//! The in-process transport: the shared conformance suite plus its own guarantees.

use saga::transport::TransportExt as _;
use std::sync::Arc;
use std::time::Duration;

use saga::testing::conformance::transport::{run_all, TransportConformance};
use saga::transport::{
    dead_letter_topic, DeadLetter, InProcConfig, InProcTransport, Message, MessageKind, Transport,
    TransportError,
};

#[tokio::test(start_paused = true)]
async fn inproc_passes_the_transport_conformance_suite() {
    run_all(
        || async {
            Arc::new(InProcTransport::with_config(
                InProcConfig::default().with_max_message_size(64 * 1024),
            )) as Arc<dyn Transport>
        },
        &TransportConformance::default(),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn inproc_counts_headers_in_the_size_limit() {
    let t = InProcTransport::with_config(InProcConfig::default().with_max_message_size(1024));
    let mut sub = t.subscribe_durable("size", "g").await.expect("subscribe");
    let mut free_form = Message::new(MessageKind::Event, "{}");
    free_form
        .headers
        .insert("padding", "h".repeat(2048))
        .expect("free-form header");
    let mut long_name = Message::new(MessageKind::Command, "{}");
    long_name.headers.name = Some(Arc::from("n".repeat(2048)));
    for message in [free_form, long_name] {
        let size = message.size();
        assert!(size > 2048, "the headers count: {size}");
        match t.publish("size", message).await {
            Err(TransportError::MessageTooLarge { size: s, limit }) => {
                assert_eq!((s, limit), (size, 1024));
            }
            other => panic!("a 2-byte payload with 2 KiB of headers was published: {other:?}"),
        }
    }
    assert_eq!(t.queued("size", "g"), 0, "nothing reached the group");
    t.publish("size", Message::new(MessageKind::Event, "ok"))
        .await
        .expect("a small message still goes through");
    let d = sub.next().await.expect("open").expect("delivery");
    assert_eq!(&d.message().payload[..], b"ok");
}

#[tokio::test(start_paused = true)]
async fn inproc_applies_backpressure_until_settlement() {
    let t = InProcTransport::with_config(InProcConfig::default().with_capacity(2));
    let mut sub = t.subscribe_durable("bp", "g").await.expect("subscribe");
    for _ in 0..2 {
        t.publish("bp", Message::new(MessageKind::Event, "x"))
            .await
            .expect("publish");
    }
    let third = t.publish("bp", Message::new(MessageKind::Event, "third"));
    tokio::pin!(third);
    assert!(
        futures::poll!(third.as_mut()).is_pending(),
        "a full group makes the publisher wait"
    );
    let first = sub.next().await.expect("open").expect("delivery");
    assert!(
        futures::poll!(third.as_mut()).is_pending(),
        "a delivered but unsettled message still holds capacity"
    );
    first.ack().await.expect("ack");
    third.await.expect("capacity freed by the ack");
    assert_eq!(t.queued("bp", "g"), 2);
}

#[tokio::test(start_paused = true)]
async fn inproc_dead_letters_after_the_delivery_limit() {
    let t = InProcTransport::with_config(InProcConfig::default().with_max_deliveries(Some(3)));
    let mut sub = t.subscribe_durable("poison", "g").await.expect("subscribe");
    t.publish("poison", Message::new(MessageKind::Event, "p"))
        .await
        .expect("publish");
    for attempt in 1..=3 {
        let d = sub.next().await.expect("open").expect("delivery");
        assert_eq!(&d.message().payload[..], b"p");
        assert_eq!(
            d.deliveries(),
            saga::transport::DeliveryCount::Exact(attempt)
        );
        drop(d); // a crashing consumer
    }
    t.publish("poison", Message::new(MessageKind::Event, "ok"))
        .await
        .expect("publish");
    let d = sub.next().await.expect("open").expect("delivery");
    assert_eq!(
        &d.message().payload[..],
        b"ok",
        "the poison message is gone"
    );
    d.ack().await.expect("ack");
    let dead = t.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].message.payload[..], b"p");
    assert_eq!(dead[0].deliveries, 3);
    assert!(
        dead[0].reason.contains("delivery limit"),
        "{}",
        dead[0].reason
    );
}

/// Publishes `n` messages numbered from 0 to `topic` and dead-letters each from group `g`.
async fn dead_letter_numbered(t: &InProcTransport, topic: &str, n: u32) {
    let mut sub = t.subscribe_durable(topic, "g").await.expect("subscribe");
    for i in 0..n {
        t.publish(topic, Message::new(MessageKind::Event, i.to_string()))
            .await
            .expect("publish");
        let d = sub.next().await.expect("open").expect("delivery");
        d.dead_letter("refused").await.expect("dead letter");
    }
}

fn numbers(letters: &[Arc<DeadLetter>]) -> Vec<String> {
    letters
        .iter()
        .map(|d| String::from_utf8_lossy(&d.message.payload).into_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn inproc_keeps_only_the_most_recent_dead_letters_by_default() {
    let t = InProcTransport::new();
    let mut operators = t
        .subscribe_durable(&dead_letter_topic("dl"), "ops")
        .await
        .expect("subscribe");
    dead_letter_numbered(&t, "dl", 1030).await;
    let kept = t.dead_letters();
    assert_eq!(kept.len(), 1024, "the record is bounded");
    assert_eq!(
        String::from_utf8_lossy(&kept[0].message.payload),
        "6",
        "the oldest were evicted"
    );
    assert_eq!(String::from_utf8_lossy(&kept[1023].message.payload), "1029");
    for i in 0..1030 {
        let d = operators.next().await.expect("open").expect("dead letter");
        assert_eq!(
            d.message().payload,
            i.to_string(),
            "the topic keeps them all"
        );
        d.ack().await.expect("ack");
    }
}

#[tokio::test(start_paused = true)]
async fn inproc_dead_letter_capacity_is_configurable_and_counts_evictions() {
    let t = InProcTransport::with_config(InProcConfig::default().with_dead_letter_capacity(3));
    dead_letter_numbered(&t, "dl", 5).await;
    assert_eq!(numbers(&t.dead_letters()), ["2", "3", "4"]);
    assert_eq!(numbers(&t.recent_dead_letters(2)), ["3", "4"]);
    assert_eq!(numbers(&t.recent_dead_letters(10)), ["2", "3", "4"]);
    assert_eq!(t.evicted_dead_letters(), 2);
    let (a, b) = (t.dead_letters(), t.dead_letters());
    assert!(
        a.iter().zip(&b).all(|(x, y)| Arc::ptr_eq(x, y)),
        "reading shares the records instead of copying them"
    );

    let none = InProcTransport::with_config(InProcConfig::default().with_dead_letter_capacity(0));
    let mut operators = none
        .subscribe_durable(&dead_letter_topic("dl"), "ops")
        .await
        .expect("subscribe");
    dead_letter_numbered(&none, "dl", 2).await;
    assert!(none.dead_letters().is_empty());
    assert_eq!(none.evicted_dead_letters(), 2);
    let d = operators.next().await.expect("open").expect("dead letter");
    assert_eq!(d.message().headers.dead_letter_reason(), Some("refused"));
}

#[tokio::test(start_paused = true)]
async fn inproc_close_ends_subscriptions_and_refuses_publishes() {
    let t = InProcTransport::new();
    let mut sub = t.subscribe_durable("c", "g").await.expect("subscribe");
    let waiting = tokio::spawn(async move { sub.next().await.is_none() });
    tokio::task::yield_now().await;
    t.close();
    assert!(waiting.await.expect("task"), "subscription ends on close");
    assert!(matches!(
        t.publish("c", Message::new(MessageKind::Event, "x")).await,
        Err(TransportError::Closed)
    ));
    assert!(matches!(
        t.subscribe_durable("c", "g").await,
        Err(TransportError::Closed)
    ));
}

/// Throughput of the in-process transport; run with
/// `cargo test --release --test transport_inproc -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check"]
async fn inproc_throughput() {
    let t = InProcTransport::new();
    let n: u32 = 2_000_000;
    let mut sub = t.subscribe_durable("perf", "g").await.expect("subscribe");
    let consumer = tokio::spawn(async move {
        for _ in 0..n {
            let d = sub.next().await.expect("open").expect("delivery");
            d.ack().await.expect("ack");
        }
    });
    let payload = "{\"order\":\"book-123\",\"qty\":1}";
    let start = std::time::Instant::now();
    for _ in 0..n {
        t.publish("perf", Message::new(MessageKind::Event, payload))
            .await
            .expect("publish");
    }
    consumer.await.expect("consumer");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "inproc: {n} messages in {secs:.3} s = {:.0} msgs/s (publish + deliver + ack)",
        f64::from(n) / secs
    );
    let _ = Duration::ZERO;
}
