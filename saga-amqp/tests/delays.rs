//! Requeue with a delay: the message comes back no sooner than the delay, its delivery count goes on,
//! and the consumer's prefetch credit is free the moment `requeue` returns.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use saga::transport::{DeliveryCount, Message, MessageKind, Subscription};
use saga::Transport;

async fn recv(sub: &mut Box<dyn Subscription>, what: &str) -> saga::transport::Delivery {
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!("{what}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_requeue_holds_no_prefetch_credit() {
    let Some(t) = common::transport(common::config().with_prefetch(1)).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let mut sub = t
            .subscribe("work", "g", Default::default())
            .await
            .expect("sub");
        for body in [&b"first"[..], b"second"] {
            let m = Message::new(MessageKind::Event, Bytes::copy_from_slice(body));
            t.publish("work", m).await.expect("publish");
        }
        let first = recv(&mut sub, "first").await;
        assert_eq!(&first.message().payload[..], b"first");
        let delay = Duration::from_millis(700);
        let asked = Instant::now();
        first.requeue(delay).await.expect("requeue");
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "requeue waited for the delay"
        );
        // With a prefetch of 1, the second message can only come if the first holds no credit.
        let second = recv(&mut sub, "second, while the first waits").await;
        assert_eq!(&second.message().payload[..], b"second");
        assert!(
            asked.elapsed() < delay,
            "the second message waited for the delay"
        );
        second.ack().await.expect("ack");
        let again = recv(&mut sub, "first, again").await;
        assert!(
            asked.elapsed() >= delay,
            "delivered early: {:?}",
            asked.elapsed()
        );
        assert_eq!(&again.message().payload[..], b"first");
        assert_eq!(again.deliveries(), DeliveryCount::Exact(2));
        again.ack().await.expect("ack");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_go_on_across_immediate_and_delayed_requeues() {
    let Some(t) = common::transport(common::config()).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let mut sub = t
            .subscribe("count", "g", Default::default())
            .await
            .expect("sub");
        let m = Message::new(MessageKind::Event, Bytes::from_static(b"n"));
        let sent = m.clone();
        t.publish("count", m).await.expect("publish");
        for (n, delay) in [(1, 0), (2, 20), (3, 0), (4, 5)] {
            let d = recv(&mut sub, "delivery").await;
            assert_eq!(d.deliveries(), DeliveryCount::Exact(n));
            assert_eq!(d.message(), &sent, "the message changed on its way round");
            d.requeue(Duration::from_millis(delay))
                .await
                .expect("requeue");
        }
        let last = recv(&mut sub, "last").await;
        assert_eq!(last.deliveries(), DeliveryCount::Exact(5));
        last.ack().await.expect("ack");
    })
    .await;
}
