//! One CloudMart world running in one style: the services plus an orchestrator or a choreography.

use std::sync::Arc;

use saga::transport::{InProcTransport, Transport};
use saga::{SagaId, SagaLog};

use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::orchestration::Orchestrator;
use crate::cloudmart::services::Services;

/// Orchestration or choreography over the same services.
#[derive(Debug)]
pub enum Engine {
    /// Driven by the executor.
    Orchestration(Orchestrator),
    /// Driven by events.
    Choreography(Choreography),
}

impl Engine {
    /// Starts `style` over `services` on a fresh in-process transport.
    ///
    /// # Errors
    /// Subscriptions failed.
    pub async fn start(
        style: Style,
        services: &Arc<Services>,
        log: Arc<dyn SagaLog>,
        owner: &str,
    ) -> Result<Self, AppError> {
        let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
        Ok(match style {
            Style::Orchestration => {
                Self::Orchestration(Orchestrator::start(services, transport, log, owner).await?)
            }
            Style::Choreography => {
                Self::Choreography(Choreography::start(services, transport).await?)
            }
        })
    }

    /// Runs one order to its end and reports it.
    ///
    /// # Errors
    /// Log or transport failures.
    pub async fn place(&self, id: SagaId, request: OrderRequest) -> Result<OrderReport, AppError> {
        match self {
            Self::Orchestration(o) => o.place(id, request).await,
            Self::Choreography(c) => c.place(id, request).await,
        }
    }

    /// After a restart: finishes what was in flight; returns how many orders resumed.
    ///
    /// # Errors
    /// Log or transport failures.
    pub async fn resume(&self) -> Result<usize, AppError> {
        match self {
            Self::Orchestration(o) => Ok(o.recover().await?.resumed()),
            Self::Choreography(c) => c.resume().await,
        }
    }

    /// The report of an order placed earlier (possibly by a process that crashed), waiting for its end;
    /// `None` if it was never started.
    ///
    /// # Errors
    /// Log failures.
    pub async fn existing(
        &self,
        services: &Services,
        id: SagaId,
        order_id: &str,
    ) -> Result<Option<OrderReport>, AppError> {
        match self {
            Self::Orchestration(o) => o.try_report(order_id, id).await,
            Self::Choreography(c) => match services.order.order(order_id).await? {
                Some(_) => Ok(Some(c.wait(order_id).await?)),
                None => Ok(None),
            },
        }
    }

    /// Stops after the messages in flight.
    pub async fn shutdown(self) {
        match self {
            Self::Orchestration(o) => o.shutdown().await,
            Self::Choreography(c) => c.shutdown().await,
        }
    }

    /// Stops at once (a crash).
    pub fn abort(self) {
        match self {
            Self::Orchestration(o) => o.abort(),
            Self::Choreography(c) => c.abort(),
        }
    }
}
