//! The [`SagaLog`] conformance suite.
//!
//! Generate one test per check with [`log_conformance_tests!`](crate::log_conformance_tests), so a
//! failing check does not hide the ones after it:
//!
//! ```
//! mod in_memory {
//!     saga::log_conformance_tests!(|| async {
//!         Some(std::sync::Arc::new(saga::InMemoryLog::new()) as std::sync::Arc<dyn saga::SagaLog>)
//!     });
//! }
//! ```
//!
//! The closure makes the log for each check (`None` skips the check, e.g. when a backend is
//! unreachable); a log shared between checks is fine: every check uses its own random definition name,
//! so concurrent checks do not see each other's sagas. Each check panics with a message naming the
//! broken rule. [`run_all`] runs every check in one test.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::id::SagaId;
use crate::log::{Append, Lease, LogError, LogEvent, NewSaga, SagaLog, SagaState};

mod claims;
mod states;
mod writes;

pub use claims::{concurrent_claims_are_exclusive, live_leases_are_not_claimed};
pub use states::{list_filters, stuck_sagas_wait_for_an_operator, terminal_sagas_are_closed};
pub use writes::{
    append_checks_versions, create_and_load, duplicate_create_conflicts, payloads_round_trip,
    stale_fence_is_rejected,
};

const LIVE: Duration = Duration::from_secs(3600);
const EXPIRED: Duration = Duration::ZERO;

fn def_name(check: &str) -> String {
    format!("conf-{check}-{}", uuid::Uuid::new_v4().simple())
}

fn new_saga(def: &str, owner: &str, ttl: Duration, data: &'static [u8]) -> NewSaga {
    NewSaga::new(SagaId::new(), def, 1, Bytes::from_static(data), owner, ttl)
}

async fn append(
    log: &dyn SagaLog,
    id: SagaId,
    version: u64,
    fence: u64,
    state: SagaState,
    events: &[LogEvent],
) -> Result<u64, LogError> {
    log.append(Append::new(
        id,
        version,
        Lease { fence },
        state,
        events,
        LIVE,
    ))
    .await
}

fn completed(step: u32) -> LogEvent {
    LogEvent::StepCompleted {
        step,
        attempt: 1,
        data: Bytes::from(format!("{{\"step\":{step}}}")),
    }
}

/// Generates one `#[test]` per check of the [log suite](crate::testing::conformance::log), each on a
/// multi-threaded tokio runtime of its own.
///
/// The first argument is a closure returning a future of `Option<S>`, where `S` dereferences to a
/// [`SagaLog`] (e.g. `Arc<dyn SagaLog>`); `None` skips the check (an unreachable backend). The optional
/// second argument is a closure taking the `S` back after the check, even a failed one, returning a
/// future that cleans up (drops tables, deletes keys).
#[macro_export]
macro_rules! log_conformance_tests {
    ($make:expr) => {
        $crate::log_conformance_tests!($make, |_| async {});
    };
    ($make:expr, $cleanup:expr) => {
        $crate::__conformance_tests!(log, $make, $cleanup;
            create_and_load,
            duplicate_create_conflicts,
            append_checks_versions,
            stale_fence_is_rejected,
            live_leases_are_not_claimed,
            terminal_sagas_are_closed,
            stuck_sagas_wait_for_an_operator,
            payloads_round_trip,
            list_filters,
            concurrent_claims_are_exclusive,
        );
    };
}

/// Runs every check in sequence (one test for the whole suite; prefer
/// [`log_conformance_tests!`](crate::log_conformance_tests)).
pub async fn run_all(log: Arc<dyn SagaLog>) {
    create_and_load(&*log).await;
    duplicate_create_conflicts(&*log).await;
    append_checks_versions(&*log).await;
    stale_fence_is_rejected(&*log).await;
    live_leases_are_not_claimed(&*log).await;
    terminal_sagas_are_closed(&*log).await;
    stuck_sagas_wait_for_an_operator(&*log).await;
    payloads_round_trip(&*log).await;
    list_filters(&*log).await;
    concurrent_claims_are_exclusive(&*log).await;
}
