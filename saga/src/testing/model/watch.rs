//! A log wrapper that wakes the test after every write attempt, so it can await the state the model
//! predicts instead of polling for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::id::SagaId;
use crate::log::{
    Append, ClaimBatch, ClaimRequest, Lease, ListQuery, LogError, NewSaga, SagaInstance, SagaLog,
    SagaSnapshot,
};

/// Forwards every call to the log underneath; counts each write attempt and notifies `changed`
/// after it.
pub(super) struct Watched {
    pub(super) inner: Arc<dyn SagaLog>,
    pub(super) changed: Arc<Notify>,
    pub(super) writes: AtomicU64,
}

impl Watched {
    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Write attempts so far.
    pub(super) fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SagaLog for Watched {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        let result = self.inner.create(saga).await;
        self.wrote();
        result
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        let result = self.inner.append(append).await;
        self.wrote();
        result
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        self.inner.load(id).await
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        self.inner.claim(claim).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        self.inner.list(query).await
    }
}
