//! Where messages go: intact to every group of their topic and only there, shared by a group's
//! consumers, in order where the transport promises it, and refused when too large.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

use super::support::{
    ack, assert_first_delivery, assert_quiet, number, numbered, publish, recv, recv_numbers,
    subscribe,
};
use super::TransportConformance;
use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::trace::TraceContext;
use crate::transport::{Message, MessageId, MessageKind, ReplyStatus, Transport, TransportError};

/// A message published to a topic arrives once, with every header (the saga headers, a W3C
/// `traceparent`) and the payload intact, counted as a first delivery.
pub async fn round_trip(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("round-trip");
    let mut sub = subscribe(t, &topic, "g").await;
    let mut message = Message::new(MessageKind::Reply, Bytes::from_static(b"{\"ok\":true}"));
    let h = &mut message.headers;
    h.name = Some(Arc::from("reserve_stock"));
    h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), 1, Direction::Compensate));
    h.attempt = Some(2);
    h.reply_to = Some(Arc::from("replies"));
    h.correlation_id = Some(MessageId::new());
    h.status = Some(ReplyStatus::Ok);
    h.trace = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert!(h.trace.is_some(), "a valid traceparent parses");
    if let Err(e) = h.insert("x-custom", "free-form") {
        panic!("free-form header refused: {e}");
    }
    publish(t, &topic, message.clone()).await;
    let d = recv(&mut *sub, options, "round trip").await;
    assert_eq!(
        d.message(),
        &message,
        "round trip: message changed in transit"
    );
    assert_first_delivery(t, d.deliveries(), "round trip");
    ack(d).await;
    assert_quiet(&mut *sub, options, "round trip: acked message redelivered").await;
}

/// Every group of a topic receives every message.
pub async fn fan_out_to_groups(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("fan-out");
    let mut a = subscribe(t, &topic, "a").await;
    let mut b = subscribe(t, &topic, "b").await;
    for i in 0..5 {
        publish(t, &topic, numbered(i)).await;
    }
    for (name, sub) in [("a", &mut a), ("b", &mut b)] {
        let got = recv_numbers(&mut **sub, options, 5, "fan-out").await;
        assert_eq!(
            got,
            (0..5).collect(),
            "fan-out: group {name} missed messages"
        );
        assert_quiet(&mut **sub, options, "fan-out: extra delivery").await;
    }
}

/// A group is scoped to its topic: one group name subscribed on two topics is two groups, each
/// receiving only its own topic's messages (a participant subscribes its one name to many topics).
pub async fn one_group_on_several_topics(t: &dyn Transport, options: &TransportConformance) {
    let (topic_a, topic_b) = (options.name("group-scope-a"), options.name("group-scope-b"));
    let mut a = subscribe(t, &topic_a, "shared").await;
    let mut b = subscribe(t, &topic_b, "shared").await;
    for i in 0..3 {
        publish(t, &topic_a, numbered(i)).await;
    }
    for i in 100..102 {
        publish(t, &topic_b, numbered(i)).await;
    }
    for (topic, sub, expected) in [
        (&topic_a, &mut a, (0..3).collect::<HashSet<u32>>()),
        (&topic_b, &mut b, (100..102).collect()),
    ] {
        let got = recv_numbers(
            &mut **sub,
            options,
            expected.len(),
            "one group on several topics",
        )
        .await;
        assert_eq!(
            got, expected,
            "one group on several topics: the group on {topic} got another topic's messages"
        );
        assert_quiet(
            &mut **sub,
            options,
            "one group on several topics: another topic's message",
        )
        .await;
    }
}

/// The consumers of one group share its messages: each message goes to exactly one of them.
pub async fn competing_consumers(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("competing");
    let mut a = subscribe(t, &topic, "workers").await;
    let mut b = subscribe(t, &topic, "workers").await;
    let n = 20;
    for i in 0..n {
        publish(t, &topic, numbered(i)).await;
    }
    let mut seen = Vec::new();
    while seen.len() < n as usize {
        let d = tokio::select! {
            d = recv(&mut *a, options, "competing consumers") => d,
            d = recv(&mut *b, options, "competing consumers") => d,
        };
        seen.push(number(&d));
        ack(d).await;
    }
    let unique: HashSet<u32> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "competing consumers: a message went to two consumers"
    );
    assert_eq!(
        unique,
        (0..n).collect(),
        "competing consumers: messages missing"
    );
    assert_quiet(&mut *a, options, "competing consumers: extra delivery").await;
    assert_quiet(&mut *b, options, "competing consumers: extra delivery").await;
}

/// Messages of one publisher reach a group in publish order, if the transport declares
/// [`per_topic_ordering`](crate::transport::Capabilities::per_topic_ordering) (skipped otherwise).
pub async fn ordering_per_publisher(t: &dyn Transport, options: &TransportConformance) {
    if !t.capabilities().per_topic_ordering {
        println!("skipped: the transport does not declare per_topic_ordering");
        return;
    }
    let topic = options.name("ordering");
    let mut sub = subscribe(t, &topic, "g").await;
    let n = 100;
    for i in 0..n {
        publish(t, &topic, numbered(i)).await;
    }
    for i in 0..n {
        let d = recv(&mut *sub, options, "ordering").await;
        assert_eq!(
            number(&d),
            i,
            "ordering: messages of one publisher overtook each other"
        );
        ack(d).await;
    }
}

/// A message over [`Capabilities::max_message_size`](crate::transport::Capabilities) is refused with
/// `MessageTooLarge`, whether its payload or its headers make it too large ([`Message::size`] counts
/// both); one exactly at the limit goes through intact.
pub async fn size_limit(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("size");
    let mut sub = subscribe(t, &topic, "g").await;
    let limit = t.capabilities().max_message_size;
    let empty = Message::new(MessageKind::Event, Bytes::new()).size();
    let big_payload = Message::new(MessageKind::Event, vec![0u8; limit + 1 - empty]);
    let mut big_header = Message::new(MessageKind::Event, Bytes::from_static(b"{}"));
    if let Err(e) = big_header.headers.insert("padding", "h".repeat(limit)) {
        panic!("free-form header refused: {e}");
    }
    for (what, over) in [("payload", big_payload), ("header", big_header)] {
        let size = over.size();
        match t.publish(&topic, over).await {
            Err(TransportError::MessageTooLarge { size: s, limit: l }) => {
                assert_eq!((s, l), (size, limit), "size limit: wrong figures ({what})");
            }
            other => panic!("size limit: publish with an oversized {what} returned {other:?}"),
        }
    }
    let at_limit = Message::new(MessageKind::Event, vec![1u8; limit - empty]);
    assert_eq!(at_limit.size(), limit);
    publish(t, &topic, at_limit).await;
    let d = recv(&mut *sub, options, "size limit").await;
    assert_eq!(
        d.message().size(),
        limit,
        "size limit: message at the limit changed"
    );
    ack(d).await;
    assert_quiet(
        &mut *sub,
        options,
        "size limit: oversized message delivered",
    )
    .await;
}
