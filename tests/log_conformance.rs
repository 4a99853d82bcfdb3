//! The shared `SagaLog` conformance suite against the in-memory log, one test per check. The SQL logs
//! run the same suite in `saga-sqlx/tests/`.

use std::sync::Arc;

use saga::{InMemoryLog, SagaLog};

mod in_memory {
    use super::*;

    saga::log_conformance_tests!(|| async {
        Some(Arc::new(InMemoryLog::new()) as Arc<dyn SagaLog>)
    });
}

mod in_memory_behind_crashing_log {
    use super::*;
    use saga::testing::{CrashPoint, CrashingLog};

    // A crashing log that never reaches its crash point forwards every call unchanged.
    saga::log_conformance_tests!(|| async {
        Some(Arc::new(CrashingLog::new(
            Arc::new(InMemoryLog::new()),
            u64::MAX,
            CrashPoint::BeforeWrite,
        )) as Arc<dyn SagaLog>)
    });
}
