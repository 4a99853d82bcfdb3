//! The shared transport conformance suite on RabbitMQ (quorum and classic queues) through `run_all`:
//! every check gets a fresh transport with a fresh random prefix, and every transport the suite made is
//! cleaned up (its queues and exchanges deleted) afterwards, also when a check fails.
//!
//! When `saga::transport_conformance_tests!` lands, this file becomes one `#[test]` per check:
//! `mod on_quorum { saga::transport_conformance_tests!(super::quorum, |t| async move { cleanup }); }`.

mod common;

use std::sync::Arc;

use futures::FutureExt as _;
use parking_lot::Mutex;
use saga::testing::conformance::transport::{run_all, TransportConformance};
use saga::Transport;
use saga_amqp::{AmqpTransport, QueueType};

async fn run(queue_type: QueueType) {
    let Some(probe) = common::transport(common::config()).await else {
        return;
    };
    common::cleanup(&probe).await;
    let made: Arc<Mutex<Vec<AmqpTransport>>> = Arc::default();
    let registry = Arc::clone(&made);
    let make = move || {
        let registry = Arc::clone(&registry);
        async move {
            let config = common::config().with_queue_type(queue_type);
            let t = common::transport(config)
                .await
                .expect("the broker answered a moment ago");
            registry.lock().push(t.clone());
            Arc::new(t) as Arc<dyn Transport>
        }
    };
    let options = TransportConformance::default();
    let outcome = std::panic::AssertUnwindSafe(run_all(make, &options))
        .catch_unwind()
        .await;
    let transports: Vec<AmqpTransport> = made.lock().drain(..).collect();
    for t in &transports {
        common::cleanup(t).await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
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
