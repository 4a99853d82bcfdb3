//! The crash matrix on the in-memory log: a 4-step saga crashed at every log write (before it, and
//! after it but before it returns), on its success path and every "step i fails" path, for 200 seeds
//! (1,000 with `SAGA_LONG_FAULTS=1`; `SAGA_CRASH_SEEDS` overrides). After every crash a new executor
//! recovers the saga: none lost, no effect twice, compensations always in reverse order.

use std::sync::Arc;

use saga::testing::crash_matrix::CrashMatrix;
use saga::testing::fault_scale;
use saga::InMemoryLog;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_log_survives_a_crash_at_every_write() {
    let report = CrashMatrix::new()
        .with_seeds(fault_scale("SAGA_CRASH_SEEDS", 200, 1000))
        .run_with(|| Arc::new(InMemoryLog::new()))
        .await;
    println!("crash matrix, in-memory log: {report}");
    report.assert_clean();
    assert!(report.crashes > 0 && report.runs > report.crashes);
}
