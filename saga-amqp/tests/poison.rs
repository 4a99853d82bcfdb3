//! Poison messages: a message nobody can handle is dead-lettered after the delivery limit with its
//! reason, one that cannot be decoded (headers, size) at once, and neither stops the messages behind.

mod common;

use std::time::Duration;

use bytes::Bytes;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use saga::transport::{dead_letter_topic, DeliveryCount, Message, MessageKind, Subscription};
use saga::Transport;
use saga_amqp::AmqpTransport;

async fn recv(sub: &mut Box<dyn Subscription>, what: &str) -> saga::transport::Delivery {
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!("{what}: {other:?}"),
    }
}

/// Publishes raw bytes to the topic exchange, as a foreign (or broken) publisher would.
async fn publish_raw(t: &AmqpTransport, topic: &str, headers: FieldTable, payload: &[u8]) {
    let conn = lapin::Connection::connect_with_runtime(
        &common::amqp_url(),
        lapin::ConnectionProperties::default(),
        async_rs::Runtime::tokio_current(),
    )
    .await
    .expect("raw connection");
    let ch = conn.create_channel().await.expect("channel");
    let exchange = format!("{}.topics", t.config().prefix());
    ch.basic_publish(
        exchange.as_str().into(),
        topic.into(),
        BasicPublishOptions::default(),
        payload,
        BasicProperties::default().with_headers(headers),
    )
    .await
    .expect("publish")
    .await
    .expect("confirm");
    let _ = conn.close(200, "OK".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_requeued_forever_is_dead_lettered_at_the_limit() {
    let Some(t) = common::transport(common::config().with_delivery_limit(3)).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let mut dlq = t
            .subscribe(&dead_letter_topic("jobs"), "ops", Default::default())
            .await
            .expect("dlq");
        let mut sub = t
            .subscribe("jobs", "workers", Default::default())
            .await
            .expect("sub");
        let poison = Message::new(MessageKind::Event, Bytes::from_static(b"poison"));
        let id = poison.headers.message_id;
        t.publish("jobs", poison).await.expect("publish");
        for n in 1..=3 {
            let d = recv(&mut sub, "poison delivery").await;
            assert_eq!(d.message().headers.message_id, id);
            assert_eq!(d.deliveries(), DeliveryCount::Exact(n));
            d.nack(true).await.expect("nack");
        }
        // Others keep flowing past it.
        t.publish(
            "jobs",
            Message::new(MessageKind::Event, Bytes::from_static(b"fine")),
        )
        .await
        .expect("publish");
        let fine = recv(&mut sub, "the next message").await;
        assert_eq!(&fine.message().payload[..], b"fine");
        fine.ack().await.expect("ack");
        let dl = recv(&mut dlq, "dead letter").await;
        assert_eq!(dl.message().headers.message_id, id);
        assert_eq!(
            dl.message().headers.dead_letter_reason(),
            Some("delivery limit of 3 exceeded")
        );
        dl.ack().await.expect("ack");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_oversized_messages_are_dead_lettered_with_the_reason() {
    let Some(t) = common::transport(common::config().with_max_message_size(4096)).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let dlq = t
            .subscribe(&dead_letter_topic("in"), "ops", Default::default())
            .await
            .expect("dlq");
        let mut sub = t
            .subscribe("in", "g", Default::default())
            .await
            .expect("sub");
        let mut bad = FieldTable::default();
        bad.insert("saga-kind".into(), AMQPValue::LongString("event".into()));
        publish_raw(&t, "in", bad, b"no id").await;
        let mut big = FieldTable::default();
        big.insert("saga-kind".into(), AMQPValue::LongString("event".into()));
        publish_raw(&t, "in", big, &[0u8; 5000]).await;
        t.publish(
            "in",
            Message::new(MessageKind::Event, Bytes::from_static(b"ok")),
        )
        .await
        .expect("publish");
        let d = recv(&mut sub, "the good message").await;
        assert_eq!(&d.message().payload[..], b"ok");
        d.ack().await.expect("ack");
        // Their saga headers are still broken, so they are read raw from the group's dead-letter
        // queue (a subscriber of the dead-letter topic would dead-letter them once more).
        let dlq_name = t.dead_letter_queue_name("in", "g").expect("name");
        let reasons = raw_reasons(&dlq_name, 2).await;
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("missing saga-message-id")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("exceeds the limit of 4096 bytes")),
            "{reasons:?}"
        );
        drop(dlq);
    })
    .await;
}

/// The `dead-letter-reason` headers of the first `n` messages of `queue`, read with `basic.get`.
async fn raw_reasons(queue: &str, n: usize) -> Vec<String> {
    let conn = lapin::Connection::connect_with_runtime(
        &common::amqp_url(),
        lapin::ConnectionProperties::default(),
        async_rs::Runtime::tokio_current(),
    )
    .await
    .expect("raw connection");
    let ch = conn.create_channel().await.expect("channel");
    let mut reasons = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while reasons.len() < n && std::time::Instant::now() < deadline {
        let got = ch
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get");
        let Some(msg) = got else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let reason = msg
            .delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("dead-letter-reason").cloned());
        reasons.push(match reason {
            Some(AMQPValue::LongString(s)) => s.to_string(),
            other => format!("{other:?}"),
        });
    }
    let _ = conn.close(200, "OK".into()).await;
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_consumers_keep_dying_ends_in_the_dead_letter_queue() {
    let Some(t) = common::transport(common::config().with_delivery_limit(2)).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        drop(
            t.subscribe("crash", "g", Default::default())
                .await
                .expect("sub"),
        );
        t.publish(
            "crash",
            Message::new(MessageKind::Event, Bytes::from_static(b"boom")),
        )
        .await
        .expect("publish");
        // Each consumer takes the message and dies with it: its connection goes, the delivery
        // unsettled (not even abandoned).
        for n in 1..=2 {
            let config = t.config().clone();
            let Some(doomed) = common::transport(config).await else {
                return;
            };
            let mut sub = doomed
                .subscribe("crash", "g", Default::default())
                .await
                .expect("sub");
            let d = recv(&mut sub, "crashing delivery").await;
            assert_eq!(d.deliveries(), DeliveryCount::Exact(n));
            std::mem::forget(d);
            doomed.close().await;
        }
        let mut sub = t
            .subscribe("crash", "g", Default::default())
            .await
            .expect("sub");
        if let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
            panic!("delivered past the limit: {item:?}");
        }
        let dlq = t.dead_letter_queue_name("crash", "g").expect("name");
        let reasons = raw_reasons(&dlq, 1).await;
        assert_eq!(reasons.len(), 1, "the message is kept in {dlq}");
    })
    .await;
}
