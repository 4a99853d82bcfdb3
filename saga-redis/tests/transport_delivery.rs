//! Delays, delivery counts, claims, group deletion and expiry of the Redis transport, checked on the
//! server's own data (`XPENDING`, `ZCARD`, `EXISTS`) as well as through the API.

mod common;

use std::time::{Duration, Instant};

use saga::transport::{
    DeliveryCount, Message, MessageKind, SubscribeOptions, Subscription, Transport, TransportExt,
};
use saga_redis::redis;

async fn next(sub: &mut Box<dyn Subscription>, within: Duration) -> saga::transport::Delivery {
    match tokio::time::timeout(within, sub.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!("no delivery within {within:?}: {other:?}"),
    }
}

async fn quiet(sub: &mut Box<dyn Subscription>, period: Duration) {
    if let Ok(Some(item)) = tokio::time::timeout(period, sub.next()).await {
        panic!("unexpected delivery {item:?}");
    }
}

async fn int(cmd: &mut redis::Cmd) -> i64 {
    cmd.query_async(&mut common::raw().await)
        .await
        .expect("query")
}

#[tokio::test]
async fn a_delayed_requeue_holds_nothing_and_survives_its_process() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut sub = t.subscribe_durable("delay", "g").await.expect("subscribe");
    t.publish("delay", Message::new(MessageKind::Event, "x"))
        .await
        .expect("publish");
    let d = next(&mut sub, Duration::from_secs(5)).await;
    assert_eq!(d.deliveries(), DeliveryCount::Exact(1));
    let started = Instant::now();
    d.requeue(Duration::from_millis(1500))
        .await
        .expect("requeue");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "requeue returns at once"
    );
    // Nothing pending with any consumer while the delay runs; the message waits in the delayed set.
    let stream = format!("{prefix}:t:{{delay}}:stream");
    let summary: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("g")
        .query_async(&mut common::raw().await)
        .await
        .expect("xpending");
    assert_eq!(summary.0, 0, "nothing pending during the delay");
    let delayed = format!("{prefix}:t:{{delay}}:delayed:g");
    assert_eq!(int(redis::cmd("ZCARD").arg(&delayed)).await, 1);
    // The process goes away during the delay (its timer with it); another one gets the message.
    drop(sub);
    t.close();
    drop(t);
    let t2 = common::transport(common::transport_config(&prefix))
        .await
        .expect("server");
    let mut sub2 = t2.subscribe_durable("delay", "g").await.expect("subscribe");
    let again = next(&mut sub2, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the delay: {:?}",
        started.elapsed()
    );
    assert_eq!(&again.message().payload[..], b"x");
    assert_eq!(
        again.deliveries(),
        DeliveryCount::Exact(2),
        "the count goes on"
    );
    again.ack().await.expect("ack");
    quiet(&mut sub2, Duration::from_millis(300)).await;
    assert_eq!(int(redis::cmd("ZCARD").arg(&delayed)).await, 0);
}

#[tokio::test]
async fn counts_are_exact_across_claims_and_requeues_and_a_requeue_reaches_one_group() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut a = t.subscribe_durable("count", "g").await.expect("subscribe");
    let mut other = t
        .subscribe_durable("count", "other")
        .await
        .expect("subscribe");
    t.publish("count", Message::new(MessageKind::Event, "c"))
        .await
        .expect("publish");
    let d = next(&mut a, Duration::from_secs(5)).await;
    assert_eq!(d.deliveries(), DeliveryCount::Exact(1));
    next(&mut other, Duration::from_secs(5))
        .await
        .ack()
        .await
        .expect("ack");
    drop(d); // abandoned: claimed again after the idle time, by a competing consumer here
    let mut b = t.subscribe_durable("count", "g").await.expect("subscribe");
    let d = tokio::select! {
        d = next(&mut a, Duration::from_secs(5)) => d,
        d = next(&mut b, Duration::from_secs(5)) => d,
    };
    assert_eq!(
        d.deliveries(),
        DeliveryCount::Exact(2),
        "claimed: XPENDING's count"
    );
    d.nack(true).await.expect("requeue now");
    let d = tokio::select! {
        d = next(&mut a, Duration::from_secs(5)) => d,
        d = next(&mut b, Duration::from_secs(5)) => d,
    };
    assert_eq!(
        d.deliveries(),
        DeliveryCount::Exact(3),
        "requeued: counted on"
    );
    d.ack().await.expect("ack");
    // The requeued copy went to group g only; the other group acknowledged it unread.
    quiet(&mut other, Duration::from_millis(400)).await;
    assert!(t.stats().claimed >= 1, "{:?}", t.stats());
}

#[tokio::test]
async fn delete_group_removes_the_group_and_its_last_stream() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let stream = format!("{prefix}:t:{{del}}:stream");
    drop(t.subscribe_durable("del", "a").await.expect("subscribe"));
    drop(t.subscribe_durable("del", "b").await.expect("subscribe"));
    t.publish("del", Message::new(MessageKind::Event, "x"))
        .await
        .expect("publish");
    t.delete_group("del", "a").await.expect("delete a");
    assert_eq!(
        int(redis::cmd("EXISTS").arg(&stream)).await,
        1,
        "b still needs it"
    );
    t.delete_group("del", "b").await.expect("delete b");
    assert_eq!(
        int(redis::cmd("EXISTS").arg(&stream)).await,
        0,
        "no group left: no stream"
    );
    t.delete_group("del", "never")
        .await
        .expect("unknown groups are Ok");
    t.delete_group("nothing-here", "g")
        .await
        .expect("unknown topics are Ok");
    // A topic without groups stores nothing.
    t.publish("del", Message::new(MessageKind::Event, "y"))
        .await
        .expect("publish");
    assert_eq!(int(redis::cmd("EXISTS").arg(&stream)).await, 0);
    assert_eq!(t.stats().unrouted, 1);
}

#[tokio::test]
async fn an_expiring_group_disappears_once_unused() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    assert!(t.capabilities().group_expiry);
    let expiring = SubscribeOptions::durable().with_expiry(Duration::from_millis(600));
    // Alone on its topic: the topic's keys expire with it.
    let sub = t
        .subscribe("replies", "replies", expiring)
        .await
        .expect("subscribe");
    let stream = format!("{prefix}:t:{{replies}}:stream");
    assert!(
        int(redis::cmd("PTTL").arg(&stream)).await > 0,
        "the stream has a TTL"
    );
    // Next to a durable group: the stream stays, the expiring group is removed by a trim.
    let durable = t
        .subscribe_durable("mixed", "durable")
        .await
        .expect("subscribe");
    let mixed = t
        .subscribe("mixed", "temp", expiring)
        .await
        .expect("subscribe");
    let mixed_stream = format!("{prefix}:t:{{mixed}}:stream");
    assert_eq!(
        int(redis::cmd("PTTL").arg(&mixed_stream)).await,
        -1,
        "no TTL"
    );
    drop((sub, mixed));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(int(redis::cmd("EXISTS").arg(&stream)).await, 0, "expired");
    drop(durable);
    t.trim("mixed").await.expect("trim");
    let groups: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&mixed_stream)
        .query_async(&mut common::raw().await)
        .await
        .expect("xinfo");
    assert_eq!(
        groups.len(),
        1,
        "only the durable group is left: {groups:?}"
    );
}

#[tokio::test]
async fn the_w3c_trace_context_travels_as_stream_fields() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut sub = t.subscribe_durable("traced", "g").await.expect("subscribe");
    let mut message = Message::new(MessageKind::Event, "t");
    let trace = saga::trace::TraceContext::root().with_trace_state(Some("vendor=1"));
    message.headers.trace = Some(trace.clone());
    t.publish("traced", message).await.expect("publish");
    let d = next(&mut sub, Duration::from_secs(5)).await;
    assert_eq!(d.message().headers.trace.as_ref(), Some(&trace));
    // Under their W3C names, for consumers in other languages.
    let stream = format!("{prefix}:t:{{traced}}:stream");
    let raw: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut common::raw().await)
        .await
        .expect("xrange");
    let fields = &raw[0].1;
    assert!(
        fields.contains(&("traceparent".to_owned(), trace.traceparent())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("tracestate".to_owned(), "vendor=1".to_owned())),
        "{fields:?}"
    );
    d.ack().await.expect("ack");
}
