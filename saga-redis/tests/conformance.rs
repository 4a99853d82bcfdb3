//! The shared `SagaLog` conformance suite on Redis, with default settings (writes batched) and with
//! batching off, one test per check; each check gets its own key prefix and deletes every key under
//! it afterwards.

mod common;

use std::sync::Arc;

use saga_redis::RedisSagaLog;

mod batched {
    use super::*;

    saga::log_conformance_tests!(common::shared_log, |log: Arc<RedisSagaLog>| async move {
        common::cleanup(&log).await;
    });
}

mod unbatched {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            common::log(common::config().without_batching())
                .await
                .map(Arc::new)
        },
        |log: Arc<RedisSagaLog>| async move {
            common::cleanup(&log).await;
        }
    );
}
