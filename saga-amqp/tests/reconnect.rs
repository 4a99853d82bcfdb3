//! A cut connection: publishing fails transiently (never hangs, never reports `Ok` for a message the
//! broker lacks), a delivery of the dead channel cannot be acked as if it had succeeded, and the
//! subscription reconnects, re-declares and resumes by itself.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::proxy::{self, Proxy};
use saga::transport::{Message, MessageKind};
use saga::Transport;
use saga_amqp::AmqpTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_publishers_resume_after_the_connection_is_cut() {
    let Some(t) = common::transport(common::config()).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let proxy = Proxy::start(proxy::upstream(&common::amqp_url())).await;
        let flaky = AmqpTransport::connect(&proxy.url(&common::amqp_url()), t.config().clone())
            .await
            .expect("connect through the proxy");
        let mut sub = flaky
            .subscribe("events", "g", Default::default())
            .await
            .expect("sub");
        t.publish(
            "events",
            Message::new(MessageKind::Event, Bytes::from_static(b"1")),
        )
        .await
        .expect("publish");
        let held = match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(Ok(d))) => d,
            other => panic!("first delivery: {other:?}"),
        };
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stale = held.ack().await;
        assert!(stale.is_err(), "an ack on a dead channel reported success");
        // Publishing through the cut connection fails fast and transiently, then works again.
        let started = Instant::now();
        let mut failures = 0;
        loop {
            let m = Message::new(MessageKind::Event, Bytes::from_static(b"2"));
            match tokio::time::timeout(Duration::from_secs(20), flaky.publish("events", m)).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    assert!(e.is_transient(), "{e:?}");
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => panic!("publish hung during the outage"),
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "publish never recovered"
            );
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < 2 && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
                Ok(Some(Ok(d))) => {
                    got.push(d.message().payload.clone());
                    d.ack().await.expect("ack after the reconnect");
                }
                Ok(Some(Err(e))) => assert!(e.is_transient(), "{e:?}"),
                Ok(None) => panic!("the subscription ended"),
                Err(_) => {}
            }
        }
        got.sort();
        assert_eq!(
            got,
            vec![Bytes::from_static(b"1"), Bytes::from_static(b"2")],
            "after {failures} failed publishes"
        );
        assert!(flaky.connections() >= 2, "no reconnect happened");
        // Its queues were declared by this connection: delete them through it, which also closes it.
        common::cleanup(&flaky).await;
        assert!(
            sub.next().await.is_none(),
            "a closed transport ends its subscriptions"
        );
    })
    .await;
}
