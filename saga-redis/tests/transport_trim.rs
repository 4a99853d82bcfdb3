//! Trimming never removes an entry some group has pending or not yet read; the soft bound makes
//! publishers wait, then fail transiently, while the slowest group is behind.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use saga::transport::{Delivery, Message, MessageKind, Subscription, Transport, TransportExt};
use saga_redis::redis;

async fn next(sub: &mut Box<dyn Subscription>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!("no delivery: {other:?}"),
    }
}

async fn xlen(stream: &str) -> u64 {
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(&mut common::raw().await)
        .await
        .expect("xlen")
}

fn number(d: &Delivery) -> u32 {
    std::str::from_utf8(&d.message().payload)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("numbered")
}

#[tokio::test]
async fn trimming_never_drops_an_unacknowledged_entry() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let stream = format!("{prefix}:t:{{trim}}:stream");
    let mut fast = t
        .subscribe_durable("trim", "fast")
        .await
        .expect("subscribe");
    let mut slow = t
        .subscribe_durable("trim", "slow")
        .await
        .expect("subscribe");
    drop(
        t.subscribe_durable("trim", "idle")
            .await
            .expect("subscribe"),
    );
    for i in 0..100u32 {
        t.publish("trim", Message::new(MessageKind::Event, i.to_string()))
            .await
            .expect("publish");
    }
    for _ in 0..100 {
        next(&mut fast).await.ack().await.expect("ack");
    }
    assert_eq!(
        t.trim("trim").await.expect("trim"),
        100,
        "idle has read nothing"
    );
    t.delete_group("trim", "idle").await.expect("delete");
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(next(&mut slow).await);
    }
    assert_eq!(
        t.trim("trim").await.expect("trim"),
        100,
        "all ten are pending"
    );
    let mut seen: HashSet<u32> = HashSet::new();
    for d in held.drain(..5) {
        seen.insert(number(&d));
        d.ack().await.expect("ack");
    }
    assert_eq!(
        t.trim("trim").await.expect("trim"),
        95,
        "only the acknowledged five went"
    );
    assert_eq!(xlen(&stream).await, 95);
    // Everything else is still there for the slow group: the five pending, then the ninety unread.
    for d in held {
        seen.insert(number(&d));
        d.ack()
            .await
            .expect("ack of a pending entry after trimming");
    }
    for _ in 0..90 {
        let d = next(&mut slow).await;
        assert!(seen.insert(number(&d)), "delivered once");
        d.ack().await.expect("ack");
    }
    assert_eq!(seen, (0..100).collect(), "nothing lost");
    assert_eq!(
        t.trim("trim").await.expect("trim"),
        1,
        "the last delivered entry stays"
    );
}

#[tokio::test]
async fn the_soft_bound_holds_publishers_back_until_the_slowest_group_catches_up() {
    let prefix = common::prefix();
    let config = common::transport_config(&prefix)
        .with_stream_bound(Some(20))
        .with_publish_wait(Duration::from_millis(300));
    let Some(t) = common::transport(config).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut lag = t
        .subscribe_durable("bounded", "lag")
        .await
        .expect("subscribe");
    for i in 0..20u32 {
        t.publish("bounded", Message::new(MessageKind::Event, i.to_string()))
            .await
            .expect("under the bound");
    }
    let err = t
        .publish("bounded", Message::new(MessageKind::Event, "over"))
        .await
        .expect_err("the stream is full");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("bound of 20"), "{err}");
    assert_eq!(t.stats().full, 1);
    for _ in 0..20 {
        next(&mut lag).await.ack().await.expect("ack");
    }
    t.publish("bounded", Message::new(MessageKind::Event, "room again"))
        .await
        .expect("trimmed: room again");
    let d = next(&mut lag).await;
    assert_eq!(&d.message().payload[..], b"room again");
    d.ack().await.expect("ack");
}
