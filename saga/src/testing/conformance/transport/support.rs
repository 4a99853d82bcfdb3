//! What the transport checks share: subscribing, publishing and receiving with a message naming what
//! broke, numbered messages, and what a delivery count may say.

use std::collections::HashSet;

use bytes::Bytes;

use super::TransportConformance;
use crate::transport::{
    CountPrecision, Delivery, DeliveryCount, Message, MessageId, MessageKind, SubscribeOptions,
    Subscription, Transport, TransportError,
};

pub(super) async fn subscribe(
    t: &dyn Transport,
    topic: &str,
    group: &str,
) -> Box<dyn Subscription> {
    match t.subscribe(topic, group, SubscribeOptions::durable()).await {
        Ok(sub) => sub,
        Err(e) => panic!("subscribe({topic:?}, {group:?}) failed: {e}"),
    }
}

pub(super) async fn publish(t: &dyn Transport, topic: &str, message: Message) {
    if let Err(e) = t.publish(topic, message).await {
        panic!("publish to {topic:?} failed: {e}");
    }
}

/// The next item of `sub`, whatever it is, or a panic if nothing comes within the delivery timeout.
pub(super) async fn next_item(
    sub: &mut dyn Subscription,
    options: &TransportConformance,
    what: &str,
) -> Option<Result<Delivery, TransportError>> {
    match tokio::time::timeout(options.delivery_timeout, sub.next()).await {
        Ok(item) => item,
        Err(_) => panic!(
            "{what}: nothing delivered within {:?}",
            options.delivery_timeout
        ),
    }
}

pub(super) async fn recv(
    sub: &mut dyn Subscription,
    options: &TransportConformance,
    what: &str,
) -> Delivery {
    match next_item(sub, options, what).await {
        Some(Ok(d)) => d,
        Some(Err(e)) => panic!("{what}: subscription error {e}"),
        None => panic!("{what}: subscription ended"),
    }
}

pub(super) async fn assert_quiet(
    sub: &mut dyn Subscription,
    options: &TransportConformance,
    what: &str,
) {
    if let Ok(Some(item)) = tokio::time::timeout(options.quiet_period, sub.next()).await {
        panic!("{what}: unexpected delivery {item:?}");
    }
}

pub(super) async fn ack(d: Delivery) {
    if let Err(e) = d.ack().await {
        panic!("ack failed: {e}");
    }
}

/// Receives `n` numbered messages, acking each, and returns their numbers.
pub(super) async fn recv_numbers(
    sub: &mut dyn Subscription,
    options: &TransportConformance,
    n: usize,
    what: &str,
) -> HashSet<u32> {
    let mut got = HashSet::new();
    for _ in 0..n {
        let d = recv(sub, options, what).await;
        got.insert(number(&d));
        ack(d).await;
    }
    got
}

/// Receives message `id` again, with a count that shows the redelivery, acks it, and checks it stays
/// acked.
pub(super) async fn expect_redelivery(
    t: &dyn Transport,
    sub: &mut dyn Subscription,
    options: &TransportConformance,
    id: MessageId,
    what: &str,
) {
    let again = recv(sub, options, &format!("{what}: the redelivery")).await;
    assert_eq!(
        again.message().headers.message_id,
        id,
        "{what}: another message came back"
    );
    assert!(
        redelivered(t, again.deliveries()),
        "{what}: delivery count not increased"
    );
    ack(again).await;
    assert_quiet(sub, options, &format!("{what}: acked message redelivered")).await;
}

pub(super) fn numbered(i: u32) -> Message {
    Message::new(MessageKind::Event, Bytes::from(i.to_be_bytes().to_vec()))
}

pub(super) fn number(d: &Delivery) -> u32 {
    let p = &d.message().payload;
    match <[u8; 4]>::try_from(&p[..]) {
        Ok(b) => u32::from_be_bytes(b),
        Err(_) => panic!("payload {p:?} is not a numbered message"),
    }
}

/// Whether `count` shows a redelivery, as precisely as the transport declares it counts (with
/// `Unknown` counts, anything does).
pub(super) fn redelivered(t: &dyn Transport, count: DeliveryCount) -> bool {
    match t.capabilities().delivery_count {
        CountPrecision::Unknown => true,
        _ => count.at_least() >= 2,
    }
}

/// Panics unless `count` is a first delivery as the transport's declared precision says it counts:
/// `Exact(1)` if it counts exactly, never more than 1 otherwise.
pub(super) fn assert_first_delivery(t: &dyn Transport, count: DeliveryCount, what: &str) {
    let ok = match t.capabilities().delivery_count {
        CountPrecision::Exact => count == DeliveryCount::Exact(1),
        _ => count.at_least() == 1,
    };
    assert!(
        ok,
        "{what}: a first delivery counted {count} (declared precision {:?})",
        t.capabilities().delivery_count
    );
}
