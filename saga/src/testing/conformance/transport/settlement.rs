//! How deliveries are settled: counted, requeued (at once or after a delay), abandoned (also off any
//! runtime), dead-lettered with their reason.

use std::collections::HashMap;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use super::support::{
    ack, assert_first_delivery, assert_quiet, expect_redelivery, number, numbered, publish, recv,
    redelivered, subscribe,
};
use super::TransportConformance;
use crate::transport::{dead_letter_topic, CountPrecision, DeliveryCount, Transport};

/// The delay [`requeue_with_delay`] asks for, in quiet periods: long enough that on a real broker a
/// message published after the requeue arrives first however slow the machine is.
const REQUEUE_DELAY_PERIODS: u32 = 5;

/// Delivery counts are as precise as the transport declares
/// ([`Capabilities::delivery_count`](crate::transport::Capabilities)): the first delivery counts 1
/// (`Exact(1)` if exact); after a requeue and after an abandon the count grows (`Exact(2)`, `Exact(3)`
/// if exact, at least 2 if `AtLeast`; anything if `Unknown`).
pub async fn delivery_counts(t: &dyn Transport, options: &TransportConformance) {
    let precision = t.capabilities().delivery_count;
    let topic = options.name("counts");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(1)).await;
    let first = recv(&mut *sub, options, "delivery counts").await;
    assert_first_delivery(t, first.deliveries(), "delivery counts");
    if let Err(e) = first.requeue(Duration::ZERO).await {
        panic!("delivery counts: requeue failed: {e}");
    }
    let second = recv(&mut *sub, options, "delivery counts after a requeue").await;
    assert_count(precision, second.deliveries(), 2, "after a requeue");
    drop(second);
    let third = recv(&mut *sub, options, "delivery counts after an abandon").await;
    assert_count(
        precision,
        third.deliveries(),
        3,
        "after a requeue and an abandon",
    );
    ack(third).await;
    assert_quiet(
        &mut *sub,
        options,
        "delivery counts: acked message redelivered",
    )
    .await;
}

/// Panics unless `count` fits the `n`-th delivery at the declared precision.
fn assert_count(precision: CountPrecision, count: DeliveryCount, n: u32, what: &str) {
    let ok = match precision {
        CountPrecision::Exact => count == DeliveryCount::Exact(n),
        CountPrecision::AtLeast => (2..=n).contains(&count.at_least()),
        CountPrecision::Unknown => count.at_least() <= n,
    };
    assert!(
        ok,
        "delivery counts: delivery {n} ({what}) counted {count} (declared precision {precision:?})"
    );
}

/// A nacked (requeued) message is delivered again, with its delivery count increased.
pub async fn redelivery_after_nack(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("nack");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(7)).await;
    let d = recv(&mut *sub, options, "nack").await;
    let id = d.message().headers.message_id;
    if let Err(e) = d.nack(true).await {
        panic!("nack failed: {e}");
    }
    expect_redelivery(t, &mut *sub, options, id, "nack").await;
}

/// A delivery dropped unsettled is delivered again (at-least-once), also to a new consumer.
pub async fn redelivery_after_drop(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("drop");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(3)).await;
    let d = recv(&mut *sub, options, "drop").await;
    let id = d.message().headers.message_id;
    drop(d);
    drop(sub);
    let mut fresh = subscribe(t, &topic, "g").await;
    expect_redelivery(t, &mut *fresh, options, id, "drop").await;
}

/// A delivery dropped on a plain `std::thread`, with no tokio runtime, neither blocks nor panics
/// ([`Acker::abandon`](crate::transport::Acker::abandon)), and the message is delivered again.
pub async fn abandon_outside_a_runtime(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("abandon");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(5)).await;
    let d = recv(&mut *sub, options, "abandon").await;
    let id = d.message().headers.message_id;
    let bound = options.delivery_timeout;
    // `spawn_blocking` keeps a paused clock from jumping ahead while the plain thread runs; the thread
    // itself is spawned from there, so it has no runtime context at all.
    let dropped = tokio::task::spawn_blocking(move || {
        let (done, finished) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let had_runtime = tokio::runtime::Handle::try_current().is_ok();
            drop(d);
            let _ = done.send(had_runtime);
        });
        let outcome = finished.recv_timeout(bound);
        if outcome.is_ok() {
            let _ = thread.join();
        }
        outcome
    })
    .await;
    match dropped {
        Ok(Ok(false)) => {}
        Ok(Ok(true)) => panic!("abandon: the plain thread had a tokio runtime"),
        Ok(Err(RecvTimeoutError::Timeout)) => {
            panic!("abandon: dropping a delivery off any runtime blocked (more than {bound:?})")
        }
        Ok(Err(RecvTimeoutError::Disconnected)) => {
            panic!("abandon: dropping a delivery off any runtime panicked")
        }
        Err(e) => panic!("abandon: the blocking task failed: {e}"),
    }
    expect_redelivery(t, &mut *sub, options, id, "abandon off any runtime").await;
}

/// A requeue with a delay returns at once and holds nothing of the consumer: the same subscription
/// receives a message published after the requeue before the delayed one comes back, and the delayed
/// one comes back no sooner than the delay (five quiet periods).
pub async fn requeue_with_delay(t: &dyn Transport, options: &TransportConformance) {
    let delay = options.quiet_period * REQUEUE_DELAY_PERIODS;
    let topic = options.name("delayed");
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(1)).await;
    let first = recv(&mut *sub, options, "requeue with a delay").await;
    let requeued_at = tokio::time::Instant::now();
    if let Err(e) = first.requeue(delay).await {
        panic!("requeue with a delay failed: {e}");
    }
    publish(t, &topic, numbered(2)).await;
    let meanwhile = recv(&mut *sub, options, "requeue with a delay: the next message").await;
    assert_eq!(
        number(&meanwhile),
        2,
        "requeue with a delay: the delayed message came back before one published after the \
         requeue (the requeue held the consumer, or ignored the delay)"
    );
    ack(meanwhile).await;
    let again = recv(
        &mut *sub,
        options,
        "requeue with a delay: the delayed message",
    )
    .await;
    let waited = requeued_at.elapsed();
    assert_eq!(number(&again), 1, "requeue with a delay: another message");
    assert!(
        waited >= delay,
        "requeue with a delay: back after {waited:?}, sooner than the {delay:?} asked for"
    );
    assert!(
        redelivered(t, again.deliveries()),
        "requeue with a delay: delivery count not increased"
    );
    ack(again).await;
    assert_quiet(
        &mut *sub,
        options,
        "requeue with a delay: acked message redelivered",
    )
    .await;
}

/// A dead-lettered message is never redelivered and appears on the dead-letter topic with its
/// reason, given to `dead_letter(reason)` or `"rejected"` for `nack(false)`.
pub async fn dead_letters_keep_their_reason(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("dead-letter");
    let mut dlq = subscribe(t, &dead_letter_topic(&topic), "operators").await;
    let mut sub = subscribe(t, &topic, "g").await;
    publish(t, &topic, numbered(9)).await;
    publish(t, &topic, numbered(10)).await;
    let mut expected = HashMap::new();
    let d = recv(&mut *sub, options, "dead letter").await;
    expected.insert(
        number(&d),
        (d.message().headers.message_id, "conformance: bad input"),
    );
    if let Err(e) = d.dead_letter("conformance: bad input").await {
        panic!("dead_letter failed: {e}");
    }
    let d = recv(&mut *sub, options, "dead letter").await;
    expected.insert(number(&d), (d.message().headers.message_id, "rejected"));
    if let Err(e) = d.nack(false).await {
        panic!("nack(false) failed: {e}");
    }
    assert_quiet(&mut *sub, options, "dead letter: message redelivered").await;
    for _ in 0..2 {
        let dl = recv(&mut *dlq, options, "dead-letter topic").await;
        let Some((id, reason)) = expected.remove(&number(&dl)) else {
            panic!(
                "dead letter: unexpected or repeated message {}",
                number(&dl)
            );
        };
        assert_eq!(
            dl.message().headers.message_id,
            id,
            "dead letter: wrong message"
        );
        assert_eq!(
            dl.message().headers.dead_letter_reason(),
            Some(reason),
            "dead letter: reason missing or changed"
        );
        ack(dl).await;
    }
    assert_quiet(&mut *dlq, options, "dead letter: extra dead letter").await;
}
