//! A saga log that "crashes" before or after its k-th write, for crash-recovery tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use crate::id::SagaId;
use crate::log::{
    Append, ClaimBatch, ClaimRequest, Lease, ListQuery, LogError, NewSaga, SagaInstance, SagaLog,
    SagaSnapshot,
};

/// Where, relative to the k-th write, the crash happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// The k-th write never reaches the log.
    BeforeWrite,
    /// The k-th write is stored, but the writer never learns it succeeded.
    AfterWrite,
}

/// Wraps a log; the `k`-th write (`create` or `append`, counting from 1) crashes the "process": from
/// then on every call fails with a non-transient `Backend` error, as if the executor died. Recover by
/// building a new executor over [`CrashingLog::inner`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use saga::testing::{CrashingLog, CrashPoint};
/// use saga::InMemoryLog;
/// let log = CrashingLog::new(Arc::new(InMemoryLog::new()), 2, CrashPoint::AfterWrite);
/// assert!(!log.crashed());
/// # });
/// ```
pub struct CrashingLog {
    inner: Arc<dyn SagaLog>,
    crash_at: AtomicU64,
    /// Whether the crash lands the write (`AfterWrite`) or not.
    after_write: AtomicBool,
    writes: AtomicU64,
    crashed: AtomicBool,
}

impl std::fmt::Debug for CrashingLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrashingLog")
            .field("crash_at", &self.crash_at)
            .field("after_write", &self.after_write)
            .field("writes", &self.writes)
            .field("crashed", &self.crashed)
            .finish_non_exhaustive()
    }
}

impl CrashingLog {
    /// Crashes at write number `crash_at` (1-based; 0 never crashes).
    pub fn new(inner: Arc<dyn SagaLog>, crash_at: u64, point: CrashPoint) -> Self {
        Self {
            inner,
            crash_at: AtomicU64::new(crash_at),
            after_write: AtomicBool::new(point == CrashPoint::AfterWrite),
            writes: AtomicU64::new(0),
            crashed: AtomicBool::new(false),
        }
    }

    /// The log underneath, as the "restarted process" sees it.
    #[must_use]
    pub fn inner(&self) -> Arc<dyn SagaLog> {
        Arc::clone(&self.inner)
    }

    /// Whether the crash happened.
    #[must_use]
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Moves the crash to the next write attempted from now on, crashing at `point` (replacing the one
    /// given to [`new`](Self::new)): the tool for crashing a running test at a moment it chooses.
    pub fn crash_at_next_write(&self, point: CrashPoint) {
        self.after_write
            .store(point == CrashPoint::AfterWrite, Ordering::SeqCst);
        self.crash_at.store(self.writes() + 1, Ordering::SeqCst);
    }

    /// Crashes now, between writes: every later call fails.
    pub fn crash_now(&self) {
        self.crashed.store(true, Ordering::SeqCst);
    }

    /// Writes attempted so far (including the crashing one).
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn dead() -> LogError {
        LogError::Backend {
            backend: "crashing-log",
            message: "injected crash: the process is gone".to_owned(),
            transient: false,
            source: None,
        }
    }

    fn check_alive(&self) -> Result<(), LogError> {
        if self.crashed() {
            Err(Self::dead())
        } else {
            Ok(())
        }
    }

    /// Runs a write, crashing around it if it is the k-th.
    async fn write<T, F>(&self, f: F) -> Result<T, LogError>
    where
        F: std::future::Future<Output = Result<T, LogError>>,
    {
        self.check_alive()?;
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.crash_at.load(Ordering::SeqCst) {
            return f.await;
        }
        self.crashed.store(true, Ordering::SeqCst);
        if self.after_write.load(Ordering::SeqCst) {
            // Stored; the answer is lost with the process.
            let _stored = f.await;
        }
        Err(Self::dead())
    }
}

#[async_trait]
impl SagaLog for CrashingLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        self.write(self.inner.create(saga)).await
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        self.write(self.inner.append(append)).await
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        self.check_alive()?;
        self.inner.load(id).await
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        self.check_alive()?;
        self.inner.claim(claim).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        self.check_alive()?;
        self.inner.list(query).await
    }
}
