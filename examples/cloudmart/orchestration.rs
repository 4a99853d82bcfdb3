//! Orchestration: the order saga, run by the executor, with each service a participant answering
//! commands over the transport.

use std::sync::Arc;
use std::time::Duration;

use saga::participant::{Participant, ReplyRouter, RouterConfig};
use saga::transport::Transport;
use saga::{Executor, ExecutorConfig, RecoveryReport, SagaId, SagaLog};

use crate::cloudmart::error::AppError;
use crate::cloudmart::history::{self, OrderReport};
use crate::cloudmart::model::{OrderRequest, OrderSaga};
use crate::cloudmart::order_saga::definition;
use crate::cloudmart::services::{inventory, order, payment, shipping, Service, Services};

/// Spawns `service` as a command participant over `transport`; its handlers (in
/// `services/<name>/handlers.rs`) get `services` injected.
///
/// # Errors
/// The transport refused a subscription.
pub async fn participant(
    service: Service,
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
) -> Result<Participant, AppError> {
    let builder = Participant::builder(service.as_str(), Arc::clone(transport))
        .with_state(Arc::clone(services));
    let builder = match service {
        Service::Order => order::handlers::commands(builder),
        Service::Inventory => inventory::handlers::commands(builder),
        Service::Payment => payment::handlers::commands(builder),
        Service::Shipping => shipping::handlers::commands(builder),
    };
    Ok(builder.spawn().await?)
}

/// Spawns the four services as command participants.
///
/// # Errors
/// The transport refused a subscription.
pub async fn participants(
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
) -> Result<Vec<Participant>, AppError> {
    let mut all = Vec::new();
    for service in Service::ALL {
        all.push(participant(service, services, transport).await?);
    }
    Ok(all)
}

/// The reply router's settings for orchestrator `owner`: its durable reply channel, 10 s per command.
#[must_use]
pub fn router_config(owner: &str) -> RouterConfig {
    RouterConfig::default()
        .with_owner_id(owner)
        .with_timeout(Duration::from_secs(10))
}

/// The orchestrator: participants, a reply router and the executor.
pub struct Orchestrator {
    executor: Executor<OrderSaga>,
    participants: Vec<Participant>,
    _router: ReplyRouter,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

impl Orchestrator {
    /// Starts the participants and an executor owned by `owner` (stable across restarts, so a rerun
    /// reclaims its sagas at once).
    ///
    /// # Errors
    /// Transport subscriptions failed.
    pub async fn start(
        services: &Arc<Services>,
        transport: Arc<dyn Transport>,
        log: Arc<dyn SagaLog>,
        owner: &str,
    ) -> Result<Self, AppError> {
        let participants = participants(services, &transport).await?;
        let mut orchestrator = Self::start_alone(transport, log, owner).await?;
        orchestrator.participants = participants;
        Ok(orchestrator)
    }

    /// Starts the executor and its reply router only: the participants run in other processes. The
    /// replies come on the durable channel of `owner`, so a restarted orchestrator finds the replies
    /// that arrived while it was down.
    ///
    /// # Errors
    /// The reply subscription failed.
    pub async fn start_alone(
        transport: Arc<dyn Transport>,
        log: Arc<dyn SagaLog>,
        owner: &str,
    ) -> Result<Self, AppError> {
        let router = ReplyRouter::start(transport, router_config(owner)).await?;
        let config = ExecutorConfig::default()
            .with_owner_id(owner)
            .with_lease_ttl(Duration::from_secs(30));
        let executor = Executor::with_config(definition(&router)?, log, config);
        Ok(Self {
            executor,
            participants: Vec::new(),
            _router: router,
        })
    }

    /// The executor.
    #[must_use]
    pub fn executor(&self) -> &Executor<OrderSaga> {
        &self.executor
    }

    /// Runs one order's saga to its end under `id` and reports it.
    ///
    /// # Errors
    /// Log or codec failures.
    pub async fn place(&self, id: SagaId, request: OrderRequest) -> Result<OrderReport, AppError> {
        let order_id = request.order_id.clone();
        self.executor
            .run_with_id(
                id,
                OrderSaga {
                    request,
                    payment_id: None,
                    tracking_number: None,
                },
            )
            .await?;
        self.report(&order_id, id).await
    }

    /// The order's report from the saga's status, or `None` if the log does not know the saga.
    ///
    /// # Errors
    /// Log failures.
    pub async fn try_report(
        &self,
        order_id: &str,
        id: SagaId,
    ) -> Result<Option<OrderReport>, AppError> {
        match self.executor.status(id).await {
            Ok(status) => Ok(Some(history::from_status(order_id, &status))),
            Err(saga::Error::UnknownSaga { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The order's report from the saga's status.
    ///
    /// # Errors
    /// Log failures; an unknown saga.
    pub async fn report(&self, order_id: &str, id: SagaId) -> Result<OrderReport, AppError> {
        Ok(history::from_status(
            order_id,
            &self.executor.status(id).await?,
        ))
    }

    /// Resumes every unfinished saga of this owner (or with an expired lease).
    ///
    /// # Errors
    /// The claim failed.
    pub async fn recover(&self) -> Result<RecoveryReport, AppError> {
        Ok(self.executor.recover().await?)
    }

    /// Stops the participants after the messages in flight.
    pub async fn shutdown(self) {
        for p in self.participants {
            p.shutdown().await;
        }
    }

    /// Stops at once (a crash).
    pub fn abort(self) {
        for p in self.participants {
            p.abort();
        }
    }
}

/// The order saga's Mermaid diagram.
///
/// # Errors
/// The reply router could not start.
pub async fn mermaid() -> Result<String, AppError> {
    let transport: Arc<dyn Transport> = Arc::new(saga::InProcTransport::new());
    let router = ReplyRouter::start(transport, RouterConfig::default()).await?;
    Ok(definition(&router)?.to_mermaid())
}
