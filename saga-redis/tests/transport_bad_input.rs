//! Poison messages are dead-lettered after the delivery limit with their reason while the others
//! flow; entries that do not decode, or are too large, are dead-lettered on receipt without being
//! decoded; credentials never show.

mod common;

use std::collections::HashSet;
use std::error::Error as _;
use std::time::Duration;

use saga::transport::{dead_letter_topic, Message, MessageKind, Transport, TransportExt};
use saga_redis::{redis, Error, RedisTransport, RedisTransportConfig};

#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_the_limit_while_others_flow() {
    let prefix = common::prefix();
    let config = common::transport_config(&prefix)
        .with_claim_idle(Duration::from_millis(200))
        .with_delivery_limit(Some(3));
    let Some(t) = common::transport(config).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut dlq = t
        .subscribe_durable(&dead_letter_topic("work"), "ops")
        .await
        .expect("subscribe");
    let mut sub = t.subscribe_durable("work", "g").await.expect("subscribe");
    t.publish("work", Message::new(MessageKind::Event, "poison"))
        .await
        .expect("publish");
    for i in 0..20u32 {
        t.publish("work", Message::new(MessageKind::Event, i.to_string()))
            .await
            .expect("publish");
    }
    // The consumer acks every message but "crashes" on the poison one every time (drops it, so it
    // stays pending and is claimed again after the idle time).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = tokio::spawn(async move {
        while let Some(Ok(d)) = sub.next().await {
            let payload = d.message().payload.clone();
            if &payload[..] != b"poison" {
                d.ack().await.expect("ack");
            }
            let _ = tx.send(payload);
        }
    });
    let mut done = HashSet::new();
    let mut poison_seen = 0;
    while done.len() < 20 {
        let payload = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("deliveries keep coming")
            .expect("consumer alive");
        if &payload[..] == b"poison" {
            poison_seen += 1;
        } else {
            done.insert(payload);
        }
    }
    let dead = tokio::time::timeout(Duration::from_secs(10), dlq.next())
        .await
        .expect("the poison message is dead-lettered")
        .expect("open")
        .expect("delivery");
    assert_eq!(&dead.message().payload[..], b"poison");
    assert_eq!(
        dead.message().headers.dead_letter_reason(),
        Some("delivery limit of 3 exceeded")
    );
    while let Ok(payload) = rx.try_recv() {
        poison_seen += usize::from(&payload[..] == b"poison");
    }
    consumer.abort();
    assert_eq!(poison_seen, 3, "delivered exactly up to the limit");
    dead.ack().await.expect("ack");
    let kept = t.dead_letters("work", 10).await.expect("read dead letters");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].group.as_deref(), Some("g"));
    assert_eq!(
        kept[0].reason.as_deref(),
        Some("delivery limit of 3 exceeded")
    );
}

#[tokio::test]
async fn undecodable_and_oversized_entries_are_dead_lettered_with_their_reason() {
    let prefix = common::prefix();
    let config = common::transport_config(&prefix).with_max_message_size(1024);
    let Some(t) = common::transport(config).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let mut sub = t.subscribe_durable("raw", "g").await.expect("subscribe");
    let stream = format!("{prefix}:t:{{raw}}:stream");
    let mut conn = common::raw().await;
    let big = "x".repeat(4096);
    let good = Message::new(MessageKind::Event, "fine");
    let id = good.headers.message_id.to_string();
    for fields in [
        vec![("garbage", "1")],
        vec![
            ("saga-message-id", "not-a-uuid"),
            ("saga-kind", "event"),
            ("saga-redis-payload", ""),
        ],
        vec![
            ("saga-message-id", id.as_str()),
            ("saga-kind", "event"),
            ("saga-redis-payload", big.as_str()),
        ],
    ] {
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg(&fields)
            .query_async(&mut conn)
            .await
            .expect("xadd");
    }
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg(b"saga-message-id")
        .arg(id.as_bytes())
        .arg(b"saga-kind")
        .arg(b"event")
        .arg(b"bad\xff")
        .arg(b"v")
        .arg(b"saga-redis-payload")
        .arg(b"p")
        .query_async(&mut conn)
        .await
        .expect("xadd");
    t.publish("raw", good).await.expect("publish");
    let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the good message comes through")
        .expect("open")
        .expect("delivery");
    assert_eq!(&d.message().payload[..], b"fine");
    d.ack().await.expect("ack");
    let dead = t.dead_letters("raw", 10).await.expect("dead letters");
    let reasons: Vec<String> = dead.iter().rev().filter_map(|d| d.reason.clone()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].contains("without a saga-redis-payload"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("invalid message id"), "{reasons:?}");
    assert!(
        reasons[2].contains("exceeds the limit of 1024 bytes"),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("not UTF-8"), "{reasons:?}");
    let pending: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(&stream)
        .arg("g")
        .query_async(&mut conn)
        .await
        .expect("xpending");
    assert_eq!(pending.0, 0, "every bad entry was settled");
}

const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";

fn assert_hidden(shown: &str) {
    for secret in [ENCODED, "p@ss:w/rd#%!", "p@ss", "p%40ss"] {
        assert!(!shown.contains(secret), "{secret:?} shown in: {shown}");
    }
}

#[tokio::test]
async fn credentials_never_show() {
    let url = format!("redis://app:{ENCODED}@127.0.0.1:1/0");
    let config = RedisTransportConfig::new(&url).with_connect_timeout(Duration::from_millis(200));
    assert_hidden(&format!("{config:?}"));
    assert_eq!(config.redacted_url(), "redis://app:***@127.0.0.1:1/0");
    let err = RedisTransport::connect(config)
        .await
        .expect_err("nothing listens there");
    let mut shown = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        shown.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert_hidden(&shown);
    assert!(
        matches!(err, Error::Connect { .. }) && err.is_transient(),
        "{err:?}"
    );
    let bad = RedisTransport::connect(RedisTransportConfig::new(&url).with_key_prefix("No Good"))
        .await
        .expect_err("prefix");
    assert!(matches!(bad, Error::InvalidKeyPrefix { .. }), "{bad:?}");
    // Against the real server (which has no password, or refuses this one).
    let real = common::redis_url().replacen("://", &format!("://:{ENCODED}@"), 1);
    match RedisTransport::connect(common::transport_config(&common::prefix()).clone()).await {
        Err(_) => {} // skipped: no server
        Ok(_) => match RedisTransport::connect(RedisTransportConfig::new(&real)).await {
            Err(e) => assert_hidden(&format!("{e} {e:?}")),
            Ok(t) => {
                let shown = format!("{t:?}");
                assert_hidden(&shown);
                assert!(shown.contains(":***@"), "{shown}");
            }
        },
    }
}
