//! The shared `Transport` conformance suite on Redis Streams, one test per check
//! (`saga::transport_conformance_tests!`). Each check gets a fresh transport under a random key prefix;
//! every key under it is deleted afterwards, also when the check fails.

mod common;

use std::ops::Deref;
use std::time::Duration;

use saga::testing::conformance::transport::TransportConformance;
use saga::transport::Transport;
use saga_redis::RedisTransport;

/// A transport under a prefix of its own, whose keys go when it is dropped.
struct Subject {
    transport: RedisTransport,
    _guard: common::Guard,
}

impl Deref for Subject {
    type Target = dyn Transport;

    fn deref(&self) -> &(dyn Transport + 'static) {
        &self.transport
    }
}

async fn make() -> Option<Subject> {
    let prefix = common::prefix();
    // Short claim idle time: an abandoned delivery comes back within the delivery timeout.
    let config = common::transport_config(&prefix).with_max_message_size(64 * 1024);
    let transport = common::transport(config).await?;
    Some(Subject {
        transport,
        _guard: common::Guard(prefix),
    })
}

saga::transport_conformance_tests!(
    make,
    |subject: Subject| async move {
        subject.transport.close();
        if let Err(e) = subject.transport.delete_all().await {
            eprintln!("cleanup: {e}");
        }
    },
    TransportConformance::default()
        .with_prefix("conformance")
        .with_delivery_timeout(Duration::from_secs(10))
);
