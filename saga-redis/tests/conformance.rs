//! The shared `SagaLog` conformance suite on Redis, one test per check; each check gets its own key
//! prefix and deletes every key under it afterwards.

mod common;

use std::sync::Arc;

use saga_redis::RedisSagaLog;

saga::log_conformance_tests!(common::shared_log, |log: Arc<RedisSagaLog>| async move {
    common::cleanup(&log).await;
});
