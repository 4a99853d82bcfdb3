//! The orchestrating executor: starts sagas, drives them through the log, recovers them after a crash.

mod cancel;
mod codec;
mod config;
mod control;
mod driver;
mod handle;
mod operator;
mod outcome;
mod recovery;
mod registry;
mod replay;
mod status;
mod takeover;
mod wait;

use std::sync::Arc;

use tokio::time::Instant;

pub use config::ExecutorConfig;
pub use handle::SagaHandle;
pub use outcome::{FailureKind, SagaFailure, SagaOutcome};
pub use recovery::RecoveryReport;
pub use status::{CurrentStep, HistoryEntry, SagaStatus};

use crate::definition::SagaDefinition;
use crate::error::Result;
use crate::id::SagaId;
use crate::log::{now_ms, ConflictKind, LogError, NewSaga, SagaLog};
use crate::step::SagaData;
use driver::Driver;
use registry::{Registry, RegistryGuard};
use replay::Phase;
use wait::Waiters;

/// What every driver of an executor shares.
pub(crate) struct Inner<D> {
    pub(crate) def: SagaDefinition<D>,
    pub(crate) log: Arc<dyn SagaLog>,
    pub(crate) config: ExecutorConfig,
    registry: Arc<Registry>,
    waiters: Waiters<D>,
}

/// Drives sagas of one definition over a [`SagaLog`].
///
/// Cheap to clone (an `Arc`); share one per definition across your service. Many sagas run concurrently
/// on one executor: each saga is one future (one task if you use [`start`](Self::start)), and a step costs
/// one boxed future and one log append.
pub struct Executor<D> {
    inner: Arc<Inner<D>>,
}

impl<D> Clone for Executor<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<D> std::fmt::Debug for Executor<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("definition", &self.inner.def.name)
            .field("owner", &self.inner.config.owner_id)
            .finish_non_exhaustive()
    }
}

impl<D: SagaData> Executor<D> {
    /// An executor with the default [`ExecutorConfig`].
    pub fn new(definition: SagaDefinition<D>, log: Arc<dyn SagaLog>) -> Self {
        Self::with_config(definition, log, ExecutorConfig::default())
    }

    /// An executor with the given configuration.
    pub fn with_config(
        definition: SagaDefinition<D>,
        log: Arc<dyn SagaLog>,
        config: ExecutorConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                def: definition,
                log,
                config,
                registry: Arc::new(Registry::new()),
                waiters: Waiters::new(),
            }),
        }
    }

    /// The definition this executor runs.
    #[must_use]
    pub fn definition(&self) -> &SagaDefinition<D> {
        &self.inner.def
    }

    /// The log it writes to.
    #[must_use]
    pub fn log(&self) -> &Arc<dyn SagaLog> {
        &self.inner.log
    }

    /// Runs a new saga to its end on the calling task and returns how it ended.
    ///
    /// # Errors
    /// Log failures (after retries), lost leases, codec errors. The saga stays in the log and a later
    /// `recover` resumes it.
    pub async fn run(&self, data: D) -> Result<SagaOutcome<D>> {
        self.run_with_id(SagaId::new(), data).await
    }

    /// Like [`run`](Self::run) with a caller-chosen id (e.g. derived from an order id, so a retried
    /// request cannot start a second saga: the second `create` is a `Conflict`).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_with_id(&self, id: SagaId, data: D) -> Result<SagaOutcome<D>> {
        let guard = self.reserve_new(id)?;
        self.create(id, data, guard).await?.drive().await
    }

    /// Records a new saga, then drives it on a spawned task. When this returns, the saga is durable.
    ///
    /// # Errors
    /// As [`run`](Self::run), for the creation only.
    pub async fn start(&self, data: D) -> Result<SagaHandle<D>> {
        self.start_with_id(SagaId::new(), data).await
    }

    /// Like [`start`](Self::start) with a caller-chosen id.
    ///
    /// # Errors
    /// As [`run`](Self::run), for the creation only.
    pub async fn start_with_id(&self, id: SagaId, data: D) -> Result<SagaHandle<D>> {
        let guard = self.reserve_new(id)?;
        let driver = self.create(id, data, guard).await?;
        let task = tokio::spawn(driver.drive());
        Ok(SagaHandle { id, task })
    }

    /// Reserves the slot of a saga about to be created: an id this executor drives already exists.
    fn reserve_new(&self, id: SagaId) -> Result<RegistryGuard> {
        self.inner
            .registry
            .try_enter(id)
            .map_err(|_| LogError::conflict(id, ConflictKind::AlreadyExists, 0, None).into())
    }

    /// Records a new saga and returns its driver, which holds `guard`'s slot.
    async fn create(&self, id: SagaId, data: D, guard: RegistryGuard) -> Result<Driver<D>> {
        let inner = &*self.inner;
        let bytes = inner.encode(id, &data)?;
        let deadline = inner.def.deadline;
        let saga = NewSaga::new(
            id,
            &*inner.def.name,
            inner.def.version,
            bytes,
            &*inner.config.owner_id,
            inner.config.lease_ttl,
        )
        .with_deadline_at_ms(
            deadline
                .map(|d| now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
        );
        let lease = inner.log.create(saga).await?;
        let phase = Phase::Forward {
            step: 0,
            attempt: 1,
        };
        guard.control.start(phase, false, inner.def.commit_point);
        Ok(Driver {
            inner: Arc::clone(&self.inner),
            guard,
            id,
            data,
            version: 1,
            lease,
            phase,
            deadline: deadline.map(|d| Instant::now() + d),
            in_doubt: false,
            failure: None,
        })
    }
}
