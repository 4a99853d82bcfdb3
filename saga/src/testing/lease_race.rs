//! Racing executors on one log: executor A holds a saga's lease, is paused past its expiry (its lease
//! TTL is zero, so it is expired the moment it is taken: no clock is waited on), executor B claims the
//! saga, and A resumes and writes with its old lease, racing B's own write. The log must commit none
//! of A's writes. Every race is one of three interleavings, in turn: A and B write at once; A writes
//! after B's claim but before B's write; A writes after B's write.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use saga::testing::lease_race::LeaseRace;
//! let report = LeaseRace::new(30).run(Arc::new(saga::InMemoryLog::new())).await;
//! assert_eq!(report.stale_committed, 0);
//! # });
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;

use crate::id::SagaId;
use crate::log::{
    Append, ClaimRequest, ClaimTarget, Lease, LogError, LogEvent, NewSaga, SagaLog, SagaState,
};

/// The attempt number that marks the stale writer's events in the log.
const STALE_ATTEMPT: u32 = 1;
/// The attempt number of the new owner's events.
const OWNER_ATTEMPT: u32 = 2;
const TTL: Duration = Duration::from_secs(300);

/// What the races counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RaceReport {
    /// Races run.
    pub races: u64,
    /// Stale writes the log refused with a `Conflict`.
    pub stale_refused: u64,
    /// Stale writes the log committed (an `Ok`, or A's event found in the log): must be 0.
    pub stale_committed: u64,
    /// New-owner writes that failed (they must not: a refused stale write changes nothing).
    pub owner_failed: u64,
    /// Wall time.
    pub duration: Duration,
}

/// The scenario; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct LeaseRace {
    races: u64,
    concurrency: usize,
}

impl LeaseRace {
    /// `races` races, 16 at a time.
    pub fn new(races: u64) -> Self {
        Self {
            races,
            concurrency: 16,
        }
    }

    /// Races in flight at once.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Runs the races against `log` (under a fresh definition name).
    ///
    /// # Panics
    /// When the log fails outside the race (create, claim, load).
    pub async fn run(&self, log: Arc<dyn SagaLog>) -> RaceReport {
        let started = Instant::now();
        let definition = format!("lease-race-{}", uuid::Uuid::new_v4().simple());
        let outcomes: Vec<(bool, bool)> = futures::stream::iter(0..self.races)
            .map(|n| race(&*log, &definition, n))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut report = RaceReport {
            races: self.races,
            duration: started.elapsed(),
            ..RaceReport::default()
        };
        for (stale_committed, owner_failed) in outcomes {
            if stale_committed {
                report.stale_committed += 1;
            } else {
                report.stale_refused += 1;
            }
            report.owner_failed += u64::from(owner_failed);
        }
        report
    }
}

fn step(attempt: u32) -> [LogEvent; 1] {
    [LogEvent::StepRetrying {
        step: 0,
        attempt,
        error: "race".to_owned(),
    }]
}

async fn write(log: &dyn SagaLog, id: SagaId, lease: Lease, attempt: u32) -> Result<u64, LogError> {
    let events = step(attempt);
    log.append(Append::new(id, 1, lease, SagaState::Running, &events, TTL))
        .await
}

/// One race; returns (a stale write was committed, the owner's write failed).
async fn race(log: &dyn SagaLog, definition: &str, n: u64) -> (bool, bool) {
    let id = SagaId::new();
    let new = NewSaga::new(
        id,
        definition,
        1,
        Bytes::from_static(b"{}"),
        "executor-a",
        Duration::ZERO,
    );
    let stale = log.create(new).await.expect("create");
    // A is paused here, past its (zero) lease; B takes the saga over.
    let claim = ClaimRequest::new(definition, 1, "executor-b", TTL, ClaimTarget::One(id));
    let owner = claim_expired(log, claim).await;
    let (a, b) = match n % 3 {
        0 => tokio::join!(
            write(log, id, stale, STALE_ATTEMPT),
            write(log, id, owner, OWNER_ATTEMPT)
        ),
        1 => {
            let a = write(log, id, stale, STALE_ATTEMPT).await;
            (a, write(log, id, owner, OWNER_ATTEMPT).await)
        }
        _ => {
            let b = write(log, id, owner, OWNER_ATTEMPT).await;
            (write(log, id, stale, STALE_ATTEMPT).await, b)
        }
    };
    let snapshot = log.load(id).await.expect("load").expect("the saga exists");
    let stale_in_log = snapshot.records.iter().any(
        |r| matches!(r.event, LogEvent::StepRetrying { attempt, .. } if attempt == STALE_ATTEMPT),
    );
    let refused = matches!(a, Err(LogError::Conflict { .. }));
    (!refused || stale_in_log, b.is_err())
}

/// Claims the saga A's zero lease left; the log's clock may not have moved past the lease's expiry
/// yet (millisecond resolution), so the claim is repeated until it has.
async fn claim_expired(log: &dyn SagaLog, claim: ClaimRequest) -> Lease {
    for _ in 0..100_000 {
        let batch = log.claim(claim.clone()).await.expect("claim");
        if let Some(c) = batch.claimed.first() {
            return c.lease;
        }
        tokio::task::yield_now().await;
    }
    panic!("the expired saga was never claimable");
}
