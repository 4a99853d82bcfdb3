//! Helpers shared by the RabbitMQ tests: the URL from the environment, skipping, isolation, cleanup.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use saga_amqp::{AmqpConfig, AmqpTransport, Error};

/// `SAGA_TEST_AMQP_URL` or the local default.
pub fn amqp_url() -> String {
    std::env::var("SAGA_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A random name prefix, so tests run in parallel against one broker.
pub fn prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A configuration with a fresh random prefix that gives up quickly on an absent broker.
pub fn config() -> AmqpConfig {
    AmqpConfig::default()
        .with_prefix(prefix())
        .with_connect_timeout(Duration::from_secs(3))
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// Prints the skip line and returns `None`, or panics when `SAGA_REQUIRE_BACKENDS=1`.
pub fn unreachable<T>(url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    let shown = saga_amqp::redact_url(url);
    if std::env::var("SAGA_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("rabbitmq unreachable at {shown} and SAGA_REQUIRE_BACKENDS=1: {error}");
    }
    println!("skipped: rabbitmq unreachable at {shown}");
    None
}

/// A transport on the test broker, or `None` (after the skip line) when it is not there.
pub async fn transport(config: AmqpConfig) -> Option<AmqpTransport> {
    let url = amqp_url();
    match AmqpTransport::connect(&url, config).await {
        Ok(t) => Some(t),
        Err(e @ Error::Connect { .. }) => unreachable(&url, &e),
        Err(e) => panic!("rabbitmq setup failed: {e}"),
    }
}

/// The same, shared, for the conformance suite.
pub async fn shared_transport() -> Option<Arc<AmqpTransport>> {
    transport(config()).await.map(Arc::new)
}

/// Deletes every queue and exchange the transport declared, then closes it.
pub async fn cleanup(transport: &AmqpTransport) {
    if let Err(e) = transport.delete_declared().await {
        eprintln!(
            "cleanup of prefix {} failed: {e}",
            transport.config().prefix()
        );
    }
    transport.close().await;
}

/// Runs `check` on `transport`, then [`cleanup`], also when the check panics.
pub async fn with_cleanup<F, Fut>(transport: AmqpTransport, check: F)
where
    F: FnOnce(AmqpTransport) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt as _;
    let outcome = std::panic::AssertUnwindSafe(check(transport.clone()))
        .catch_unwind()
        .await;
    cleanup(&transport).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub mod node;
pub mod proxy;
pub mod sagas;
