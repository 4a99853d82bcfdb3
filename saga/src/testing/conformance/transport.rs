//! The conformance suite every [`Transport`] implementation runs from its tests.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use saga::testing::conformance::transport::{run_all, TransportConformance};
//! use saga::transport::{InProcTransport, Transport};
//!
//! run_all(
//!     || async { Arc::new(InProcTransport::new()) as Arc<dyn Transport> },
//!     &TransportConformance::default(),
//! )
//! .await;
//! # }
//! ```
//!
//! Every check uses its own randomly prefixed topics and groups, so checks (and test binaries) may run
//! in parallel against one broker. A failing check panics with a message naming the contract broken.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::transport::{
    dead_letter_topic, CountPrecision, Delivery, DeliveryCount, Message, MessageId, MessageKind,
    ReplyStatus, SubscribeOptions, Subscription, Transport, TransportError,
};

/// Options of the transport conformance suite.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportConformance {
    prefix: String,
    ordered: bool,
    quiet_period: Duration,
    delivery_timeout: Duration,
}

impl Default for TransportConformance {
    /// A random prefix, ordering checked, 200 ms quiet period, 30 s to wait for a (re)delivery.
    fn default() -> Self {
        Self {
            prefix: format!("conformance-{}", MessageId::new()),
            ordered: true,
            quiet_period: Duration::from_millis(200),
            delivery_timeout: Duration::from_secs(30),
        }
    }
}

impl TransportConformance {
    /// The prefix of every topic and group the checks create.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether the transport promises that one publisher's messages reach a group in order.
    #[must_use]
    pub const fn with_ordering(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// How long "nothing else arrives" is watched for.
    #[must_use]
    pub const fn with_quiet_period(mut self, period: Duration) -> Self {
        self.quiet_period = period;
        self
    }

    /// How long to wait for an expected delivery or redelivery (a Redis adapter's `XAUTOCLAIM` idle time
    /// must fit in it).
    #[must_use]
    pub const fn with_delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    fn topic(&self, check: &str) -> String {
        format!("{}.{check}", self.prefix)
    }
}

/// Whether `count` shows a redelivery, as precisely as the transport declares it counts.
fn redelivered(t: &dyn Transport, count: DeliveryCount) -> bool {
    match t.capabilities().delivery_count {
        CountPrecision::Unknown => true,
        _ => count.at_least() >= 2,
    }
}

/// Runs every check, each against a fresh transport from `make`.
pub async fn run_all<F, Fut>(make: F, options: &TransportConformance)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Transport>>,
{
    round_trip(&*make().await, options).await;
    fan_out_to_groups(&*make().await, options).await;
    competing_consumers(&*make().await, options).await;
    redelivery_after_nack(&*make().await, options).await;
    redelivery_after_drop(&*make().await, options).await;
    dead_letter(&*make().await, options).await;
    durable_group(&*make().await, options).await;
    if options.ordered {
        ordering_per_publisher(&*make().await, options).await;
    }
    size_limit(&*make().await, options).await;
}

async fn subscribe(t: &dyn Transport, topic: &str, group: &str) -> Box<dyn Subscription> {
    match t.subscribe(topic, group, SubscribeOptions::durable()).await {
        Ok(sub) => sub,
        Err(e) => panic!("subscribe({topic:?}, {group:?}) failed: {e}"),
    }
}

async fn publish(t: &dyn Transport, topic: &str, message: Message) {
    if let Err(e) = t.publish(topic, message).await {
        panic!("publish to {topic:?} failed: {e}");
    }
}

async fn recv(sub: &mut dyn Subscription, options: &TransportConformance, what: &str) -> Delivery {
    match tokio::time::timeout(options.delivery_timeout, sub.next()).await {
        Ok(Some(Ok(d))) => d,
        Ok(Some(Err(e))) => panic!("{what}: subscription error {e}"),
        Ok(None) => panic!("{what}: subscription ended"),
        Err(_) => panic!(
            "{what}: nothing delivered within {:?}",
            options.delivery_timeout
        ),
    }
}

async fn assert_quiet(sub: &mut dyn Subscription, options: &TransportConformance, what: &str) {
    if let Ok(Some(item)) = tokio::time::timeout(options.quiet_period, sub.next()).await {
        panic!("{what}: unexpected delivery {item:?}");
    }
}

async fn ack(d: Delivery) {
    if let Err(e) = d.ack().await {
        panic!("ack failed: {e}");
    }
}

fn numbered(i: u32) -> Message {
    Message::new(MessageKind::Event, Bytes::from(i.to_be_bytes().to_vec()))
}

fn number(d: &Delivery) -> u32 {
    let p = &d.message().payload;
    match <[u8; 4]>::try_from(&p[..]) {
        Ok(b) => u32::from_be_bytes(b),
        Err(_) => panic!("payload {p:?} is not a numbered message"),
    }
}

/// A message published to a topic arrives with every header and the payload intact, once.
pub async fn round_trip(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("round-trip");
    let mut sub = subscribe(t, &topic, "g").await;
    let mut message = Message::new(MessageKind::Reply, Bytes::from_static(b"{\"ok\":true}"));
    let h = &mut message.headers;
    h.name = Some(Arc::from("reserve_stock"));
    h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), 1, Direction::Compensate));
    h.attempt = Some(2);
    h.reply_to = Some(Arc::from("replies"));
    h.correlation_id = Some(MessageId::new());
    h.status = Some(ReplyStatus::Ok);
    if let Err(e) = h.insert("trace-id", "abc123") {
        panic!("free-form header refused: {e}");
    }
    publish(t, &topic, message.clone()).await;
    let d = recv(&mut *sub, options, "round trip").await;
    assert_eq!(
        d.message(),
        &message,
        "round trip: message changed in transit"
    );
    assert!(
        matches!(
            d.deliveries(),
            DeliveryCount::Exact(1) | DeliveryCount::AtLeast(1) | DeliveryCount::Unknown
        ),
        "round trip: first delivery must count 1, got {}",
        d.deliveries()
    );
    ack(d).await;
    assert_quiet(&mut *sub, options, "round trip: acked message redelivered").await;
}

/// Every group of a topic receives every message.
pub async fn fan_out_to_groups(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("fan-out");
    let mut a = subscribe(t, &topic, "a").await;
    let mut b = subscribe(t, &topic, "b").await;
    for i in 0..5 {
        publish(t, &topic, numbered(i)).await;
    }
    for (name, sub) in [("a", &mut a), ("b", &mut b)] {
        let mut got = HashSet::new();
        for _ in 0..5 {
            let d = recv(&mut **sub, options, "fan-out").await;
            got.insert(number(&d));
            ack(d).await;
        }
        assert_eq!(
            got,
            (0..5).collect(),
            "fan-out: group {name} missed messages"
        );
        assert_quiet(&mut **sub, options, "fan-out: extra delivery").await;
    }
}

/// The consumers of one group share its messages: each message goes to exactly one of them.
pub async fn competing_consumers(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("competing");
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

/// A nacked (requeued) message is delivered again, with its delivery count increased.
pub async fn redelivery_after_nack(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("nack");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(7)).await;
    let d = recv(&mut *sub, options, "nack").await;
    let id = d.message().headers.message_id;
    if let Err(e) = d.nack(true).await {
        panic!("nack failed: {e}");
    }
    let again = recv(&mut *sub, options, "redelivery after nack").await;
    assert_eq!(
        again.message().headers.message_id,
        id,
        "nack: another message came back"
    );
    assert!(
        redelivered(t, again.deliveries()),
        "nack: delivery count not increased"
    );
    ack(again).await;
    assert_quiet(&mut *sub, options, "nack: acked message redelivered").await;
}

/// A delivery dropped unsettled is delivered again (at-least-once), also to a new consumer.
pub async fn redelivery_after_drop(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("drop");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(3)).await;
    let d = recv(&mut *sub, options, "drop").await;
    let id = d.message().headers.message_id;
    drop(d);
    drop(sub);
    let mut fresh = subscribe(t, &topic, "g").await;
    let again = recv(&mut *fresh, options, "redelivery after drop").await;
    assert_eq!(
        again.message().headers.message_id,
        id,
        "drop: another message came back"
    );
    assert!(
        redelivered(t, again.deliveries()),
        "drop: delivery count not increased"
    );
    ack(again).await;
    assert_quiet(&mut *fresh, options, "drop: acked message redelivered").await;
}

/// A dead-lettered message is never redelivered and appears on the dead-letter topic with its reason.
pub async fn dead_letter(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("dead-letter");
    let mut dlq = subscribe(t, &dead_letter_topic(&topic), "operators").await;
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(9)).await;
    let d = recv(&mut *sub, options, "dead letter").await;
    let id = d.message().headers.message_id;
    if let Err(e) = d.dead_letter("conformance: bad input").await {
        panic!("dead_letter failed: {e}");
    }
    assert_quiet(&mut *sub, options, "dead letter: message redelivered").await;
    let dl = recv(&mut *dlq, options, "dead-letter topic").await;
    assert_eq!(
        dl.message().headers.message_id,
        id,
        "dead letter: wrong message"
    );
    assert_eq!(number(&dl), 9, "dead letter: payload changed");
    assert_eq!(
        dl.message().headers.dead_letter_reason(),
        Some("conformance: bad input"),
        "dead letter: reason missing"
    );
    ack(dl).await;
}

/// A group keeps the messages published while none of its consumers is connected.
pub async fn durable_group(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("durable");
    drop(subscribe(t, &topic, "g").await);
    publish(t, &topic, numbered(1)).await;
    let mut sub = subscribe(t, &topic, "g").await;
    let d = recv(&mut *sub, options, "durable group").await;
    assert_eq!(number(&d), 1);
    ack(d).await;
}

/// Messages of one publisher reach a group in publish order.
pub async fn ordering_per_publisher(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("ordering");
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

/// A message over [`Transport::max_message_size`] is refused with `MessageTooLarge`, whether its payload
/// or its headers make it too large ([`Message::size`] counts both); one exactly at the limit goes through.
pub async fn size_limit(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.topic("size");
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
