//! The shared transport conformance suite on RabbitMQ (quorum and classic queues); every check runs
//! under its own random prefix and deletes its queues and exchanges afterwards, also when it fails.

mod common;

use std::sync::Arc;

use saga::testing::conformance::transport::{self as suite, TransportConformance};
use saga::Transport;
use saga_amqp::{AmqpTransport, QueueType};

/// Runs every check of the suite, each on a fresh transport with a fresh prefix, cleaning up each.
async fn run(queue_type: QueueType) {
    let Some(probe) = common::transport(common::config()).await else {
        return;
    };
    common::cleanup(&probe).await;
    let options = TransportConformance::default();
    type Check = for<'a> fn(
        &'a dyn Transport,
        &'a TransportConformance,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
    let checks: [(&str, Check); 9] = [
        ("round_trip", |t, o| Box::pin(suite::round_trip(t, o))),
        ("fan_out_to_groups", |t, o| {
            Box::pin(suite::fan_out_to_groups(t, o))
        }),
        ("competing_consumers", |t, o| {
            Box::pin(suite::competing_consumers(t, o))
        }),
        ("redelivery_after_nack", |t, o| {
            Box::pin(suite::redelivery_after_nack(t, o))
        }),
        ("redelivery_after_drop", |t, o| {
            Box::pin(suite::redelivery_after_drop(t, o))
        }),
        ("dead_letter", |t, o| Box::pin(suite::dead_letter(t, o))),
        ("durable_group", |t, o| Box::pin(suite::durable_group(t, o))),
        ("ordering_per_publisher", |t, o| {
            Box::pin(suite::ordering_per_publisher(t, o))
        }),
        ("size_limit", |t, o| Box::pin(suite::size_limit(t, o))),
    ];
    for (name, check) in checks {
        let config = common::config().with_queue_type(queue_type);
        let Some(transport) = common::transport(config).await else {
            return;
        };
        let options = options.clone();
        common::with_cleanup(transport, |t: AmqpTransport| async move {
            let t: Arc<dyn Transport> = Arc::new(t);
            eprintln!("conformance check {name} ({queue_type:?})");
            check(&*t, &options).await;
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_quorum_queues() {
    run(QueueType::Quorum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_classic_queues() {
    run(QueueType::Classic).await;
}
