//! The shared transport conformance suite on RabbitMQ, quorum and classic queues, one test per check:
//! every check gets a fresh transport with a fresh random prefix, and its queues and exchanges are
//! deleted afterwards, also when the check fails.

mod common;

use std::sync::Arc;

use saga_amqp::{AmqpTransport, QueueType};

async fn quorum() -> Option<Arc<AmqpTransport>> {
    common::transport(common::config()).await.map(Arc::new)
}

async fn classic() -> Option<Arc<AmqpTransport>> {
    common::transport(common::config().with_queue_type(QueueType::Classic))
        .await
        .map(Arc::new)
}

mod on_quorum {
    use super::*;

    saga::transport_conformance_tests!(quorum, |t: Arc<AmqpTransport>| async move {
        common::cleanup(&t).await;
    });
}

mod on_classic {
    use super::*;

    saga::transport_conformance_tests!(classic, |t: Arc<AmqpTransport>| async move {
        common::cleanup(&t).await;
    });
}
