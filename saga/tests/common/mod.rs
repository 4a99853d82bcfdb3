//! Test doubles shared by the executor tests: a log whose calls can be held at a gate.

#![allow(dead_code)] // each test binary uses a different part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use saga::log::{
    Append, ClaimBatch, ClaimRequest, Lease, ListQuery, NewSaga, SagaInstance, SagaSnapshot,
};
use saga::{compensation_fn, step_fn, StepContext, StepError};
use saga::{InMemoryLog, LogError, SagaId, SagaLog};
use tokio::sync::{Notify, Semaphore};

/// Holds calls of one kind when armed: each held call signals `entered` and waits for a permit.
#[derive(Debug)]
pub struct Gate {
    armed: AtomicBool,
    entered: Notify,
    open: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            armed: AtomicBool::new(false),
            entered: Notify::new(),
            open: Semaphore::new(0),
        }
    }
}

impl Gate {
    /// From now on, calls wait at the gate.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Calls pass freely again (the ones waiting still need a permit each).
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Waits until a call arrives at the armed gate.
    pub async fn entered(&self) {
        self.entered.notified().await;
    }

    /// Lets `n` held calls through.
    pub fn release(&self, n: usize) {
        self.open.add_permits(n);
    }

    async fn pass(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.entered.notify_one();
            self.open.acquire().await.expect("gate open").forget();
        }
    }
}

/// An [`InMemoryLog`] whose appends, loads and claims can be held at gates.
#[derive(Debug, Default)]
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
        Arc::default()
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

/// The calls steps and compensations record, in order.
pub type Calls = Arc<parking_lot::Mutex<Vec<String>>>;

/// An empty call record.
pub fn calls() -> Calls {
    Arc::default()
}

/// A step that records `name` and adds one.
pub fn ok_step(calls: &Calls, name: &'static str) -> impl saga::Step<u32> {
    let calls = calls.clone();
    step_fn(move |_: StepContext, n: u32| {
        let calls = calls.clone();
        async move {
            calls.lock().push(name.to_owned());
            Ok::<_, StepError>(n + 1)
        }
    })
}

/// A compensation that records `undo {name}`.
pub fn undo(calls: &Calls, name: &'static str) -> impl saga::Compensation<u32> {
    let calls = calls.clone();
    compensation_fn(move |_: StepContext, _: u32| {
        let calls = calls.clone();
        async move {
            calls.lock().push(format!("undo {name}"));
            Ok::<_, StepError>(())
        }
    })
}

/// A step that waits at a gate until the test opens it.
pub fn gated(
    calls: &Calls,
    name: &'static str,
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
) -> impl saga::Step<u32> {
    let calls = calls.clone();
    step_fn(move |_: StepContext, n: u32| {
        let (calls, entered, gate) = (calls.clone(), entered.clone(), gate.clone());
        async move {
            calls.lock().push(name.to_owned());
            entered.notify_one();
            let _permit = gate
                .acquire()
                .await
                .map_err(|_| StepError::transient("gate closed"))?;
            Ok::<_, StepError>(n + 1)
        }
    })
}
