//! Racing executors on the in-memory log: a lease holder paused past its expiry resumes after another
//! executor took the saga over; 10,000 races, 0 stale writes committed.

use std::sync::Arc;

use saga::testing::lease_race::LeaseRace;
use saga::InMemoryLog;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_lease_holder_never_commits_a_stale_write() {
    let report = LeaseRace::new(10_000)
        .run(Arc::new(InMemoryLog::new()))
        .await;
    println!("lease races, in-memory log: {report:?}");
    assert_eq!(report.stale_committed, 0);
    assert_eq!(report.owner_failed, 0);
    assert_eq!(report.stale_refused, 10_000);
}
