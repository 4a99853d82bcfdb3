//! Test doubles shared by the executor tests: a log whose calls can be held at gates. Steps come
//! from the test kit (`saga::testing::Journal`).

#![allow(dead_code)] // each test binary uses a different part

use std::sync::Arc;

use async_trait::async_trait;
use saga::log::{
    Append, ClaimBatch, ClaimRequest, Lease, ListQuery, NewSaga, SagaInstance, SagaSnapshot,
};
use saga::testing::Gate;
use saga::{InMemoryLog, LogError, SagaId, SagaLog};

/// An [`InMemoryLog`] whose appends, loads and claims can be held at gates (each passing until the
/// test calls `hold`).
#[derive(Debug)]
pub struct GatedLog {
    pub inner: InMemoryLog,
    pub appends: Gate,
    pub loads: Gate,
    pub claims: Gate,
    /// Held after a claim took effect, before its answer returns.
    pub claimed: Gate,
}

impl GatedLog {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: InMemoryLog::new(),
            appends: Gate::passing(),
            loads: Gate::passing(),
            claims: Gate::passing(),
            claimed: Gate::passing(),
        })
    }
}

#[async_trait]
impl SagaLog for GatedLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        self.inner.create(saga).await
    }
    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        self.appends.pass().await;
        self.inner.append(append).await
    }
    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        self.loads.pass().await;
        self.inner.load(id).await
    }
    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        self.claims.pass().await;
        let batch = self.inner.claim(claim).await;
        self.claimed.pass().await;
        batch
    }
    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        self.inner.list(query).await
    }
}
