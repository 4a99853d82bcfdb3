//! What a group keeps: messages published with `Ok` (whoever published them, whether anyone is
//! consuming), and nothing once it is deleted.

use std::collections::HashSet;

use super::lend::lend;
use super::support::{ack, assert_quiet, number, numbered, publish, recv, recv_numbers, subscribe};
use super::TransportConformance;
use crate::transport::Transport;

/// A message whose `publish` returned `Ok` is delivered although its publisher is gone: messages are
/// published from a task of their own, through a handle of its own, both dropped as soon as the last
/// `publish` returned, while the group has no consumer; a new consumer then receives every one of them.
/// (Killing a publishing process right after `Ok` is for the adapters' own restart tests.)
pub async fn published_messages_survive_the_publisher(
    t: &dyn Transport,
    options: &TransportConformance,
) {
    let topic = options.name("survive-publisher");
    drop(subscribe(t, &topic, "g").await);
    let n = 10;
    lend(t, async |publisher| {
        let task_topic = topic.clone();
        let publishing = tokio::spawn(async move {
            let sends = (0..n).map(|i| publisher.publish(&task_topic, numbered(i)));
            futures::future::join_all(sends).await
        });
        match publishing.await {
            Ok(results) => {
                for result in results {
                    if let Err(e) = result {
                        panic!("survive the publisher: publish failed: {e}");
                    }
                }
            }
            Err(e) => panic!("survive the publisher: the publishing task failed: {e}"),
        }
    })
    .await;
    let mut sub = subscribe(t, &topic, "g").await;
    let got = recv_numbers(&mut *sub, options, n as usize, "survive the publisher").await;
    assert_eq!(
        got,
        (0..n).collect(),
        "survive the publisher: messages lost"
    );
    assert_quiet(&mut *sub, options, "survive the publisher: extra delivery").await;
}

/// A group keeps the messages published while none of its consumers is connected.
pub async fn durable_group(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("durable");
    drop(subscribe(t, &topic, "g").await);
    publish(t, &topic, numbered(1)).await;
    let mut sub = subscribe(t, &topic, "g").await;
    let d = recv(&mut *sub, options, "durable group").await;
    assert_eq!(number(&d), 1, "durable group: another message");
    ack(d).await;
}

/// `delete_group` removes a group and what it holds, and it stops collecting: a group subscribed again
/// under the name starts empty. The topic's other groups are untouched; deleting a group that does not
/// exist (again, or on a topic never used) is `Ok`.
pub async fn delete_group(t: &dyn Transport, options: &TransportConformance) {
    let topic = options.name("delete-group");
    let mut keeper = subscribe(t, &topic, "keeper").await;
    drop(subscribe(t, &topic, "doomed").await);
    publish(t, &topic, numbered(1)).await;
    let deleted = [
        t.delete_group(&topic, "doomed").await,
        t.delete_group(&topic, "doomed").await,
        t.delete_group(&options.name("delete-unknown"), "nobody")
            .await,
    ];
    for (what, result) in ["a group", "it again", "an unknown group"]
        .iter()
        .zip(deleted)
    {
        if let Err(e) = result {
            panic!("delete group: deleting {what} failed: {e}");
        }
    }
    publish(t, &topic, numbered(2)).await;
    let mut doomed = subscribe(t, &topic, "doomed").await;
    publish(t, &topic, numbered(3)).await;
    let d = recv(
        &mut *doomed,
        options,
        "delete group: a group subscribed again",
    )
    .await;
    assert_eq!(
        number(&d),
        3,
        "delete group: the deleted group kept (or went on collecting) messages"
    );
    ack(d).await;
    assert_quiet(
        &mut *doomed,
        options,
        "delete group: the deleted group kept messages",
    )
    .await;
    let got = recv_numbers(&mut *keeper, options, 3, "delete group: the other group").await;
    assert_eq!(
        got,
        HashSet::from([1, 2, 3]),
        "delete group: the topic's other group lost messages"
    );
}
