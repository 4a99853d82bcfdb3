//! The shared `SagaLog` conformance suite against the in-memory log. The SQL logs run the same suite
//! in `saga-sqlx/tests/`.

use std::sync::Arc;

use saga::testing::conformance;
use saga::InMemoryLog;

#[tokio::test]
async fn in_memory_log_conforms() {
    conformance::log::run_all(Arc::new(InMemoryLog::new())).await;
}
