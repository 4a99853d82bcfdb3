//! Racing executors on the Redis log: a lease holder paused past its expiry resumes after another
//! executor took the saga over; 1,000 races (10,000 with `SAGA_LONG_FAULTS=1`, or `SAGA_LEASE_RACES`),
//! 0 stale writes committed.

mod common;

use std::sync::Arc;

use saga::testing::fault_scale;
use saga::testing::lease_race::LeaseRace;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_lease_holder_never_commits_a_stale_write() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    let _guard = common::guard(&log);
    let races = fault_scale("SAGA_LEASE_RACES", 1_000, 10_000);
    let report = LeaseRace::new(races)
        .with_concurrency(32)
        .run(Arc::new(log.clone()))
        .await;
    println!("lease races, redis log: {report:?}");
    assert_eq!(report.races, races);
    assert_eq!(report.stale_committed, 0, "stale writes committed");
    assert_eq!(report.owner_failed, 0, "the new owner's writes failed");
    common::cleanup(&log).await;
}
