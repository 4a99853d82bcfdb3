//! The shared `Transport` conformance suite on Redis Streams. Every check gets a fresh transport under
//! one random key prefix, whose keys are deleted afterwards (also when a check fails).

mod common;

use std::sync::Arc;
use std::time::Duration;

use saga::testing::conformance::transport::{run_all, TransportConformance};
use saga::transport::Transport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_the_transport_conformance_suite() {
    let prefix = common::prefix();
    let Some(first) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    drop(first);
    let config = common::transport_config(&prefix).with_max_message_size(64 * 1024);
    run_all(
        || {
            let config = config.clone();
            async move {
                let t = common::transport(config)
                    .await
                    .expect("the server answered a moment ago");
                Arc::new(t) as Arc<dyn Transport>
            }
        },
        &TransportConformance::default().with_delivery_timeout(Duration::from_secs(10)),
    )
    .await;
}
