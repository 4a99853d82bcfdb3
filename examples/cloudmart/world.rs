//! What a scenario runs against: a [`World`] of the four services and one engine, either in this
//! process ([`LocalWorld`]) or as separate processes reached through the gateway's HTTP API
//! ([`crate::cloudmart::cluster::ClusterWorld`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use saga::middleware::CircuitState;
use saga::{SagaId, SagaLog};
use serde::{Deserialize, Serialize};

use crate::cloudmart::db::DbSpec;
use crate::cloudmart::engine::Engine;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::services::{CarrierMode, Services, ServicesConfig, Snapshot};

/// The middleware figures a scenario checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Calls that reached the carrier.
    pub carrier_calls: u64,
    /// The carrier breaker's state: `Closed`, `Open` or `HalfOpen`.
    pub breaker: String,
    /// How long the breaker stays open, in milliseconds.
    pub breaker_open_ms: u64,
    /// Authorizations the payment gateway made.
    pub gateway_calls: u64,
    /// The most authorizations ever in flight at once.
    pub gateway_peak: usize,
    /// The bulkhead's limit of concurrent gateway calls.
    pub bulkhead_limit: usize,
}

impl Metrics {
    /// The figures of `services`.
    #[must_use]
    pub fn of(services: &Services) -> Self {
        let breaker = services.shipping.breaker();
        let gateway = services.payment.gateway();
        Self {
            carrier_calls: services.shipping.carrier().calls(),
            breaker: breaker_name(breaker.state()).to_owned(),
            breaker_open_ms: u64::try_from(breaker.config().open_duration().as_millis())
                .unwrap_or(u64::MAX),
            gateway_calls: gateway.calls(),
            gateway_peak: gateway.max_in_flight(),
            bulkhead_limit: services.payment.bulkhead().config().max_concurrent(),
        }
    }
}

/// The name of a breaker state in [`Metrics::breaker`].
#[must_use]
pub const fn breaker_name(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Open => "Open",
        CircuitState::HalfOpen => "HalfOpen",
        _ => "Closed",
    }
}

/// The services and the engine of one scenario run.
#[async_trait]
pub trait World: Send + Sync {
    /// Runs one order under saga (or event chain) id `id` to its end and reports it.
    async fn place(&self, id: SagaId, request: OrderRequest) -> Result<OrderReport, AppError>;
    /// Makes the carrier book, fail or refuse.
    async fn set_carrier(&self, mode: CarrierMode) -> Result<(), AppError>;
    /// Makes every payment-gateway authorization take `delay`.
    async fn set_gateway_delay(&self, delay: Duration) -> Result<(), AppError>;
    /// The middleware figures.
    async fn metrics(&self) -> Result<Metrics, AppError>;
    /// Every service's state.
    async fn snapshot(&self) -> Result<Snapshot, AppError>;
    /// Stops the engine after the messages in flight.
    async fn shutdown(self: Box<Self>);
}

/// A world in this process: services seeded on fresh databases, and an engine over an in-process
/// transport.
#[derive(Debug)]
pub struct LocalWorld {
    services: Arc<Services>,
    engine: Engine,
}

impl LocalWorld {
    /// Services on fresh databases named after `owner` under `db`, and `style`'s engine, owned by
    /// `owner` in `log`.
    ///
    /// # Errors
    /// A database cannot be opened; subscriptions failed.
    pub async fn start(
        style: Style,
        config: &ServicesConfig,
        db: &DbSpec,
        log: Arc<dyn SagaLog>,
        owner: &str,
    ) -> Result<Self, AppError> {
        let services = Services::open(db, owner, config).await?;
        let engine = Engine::start(style, &services, log, owner).await?;
        Ok(Self { services, engine })
    }
}

#[async_trait]
impl World for LocalWorld {
    async fn place(&self, id: SagaId, request: OrderRequest) -> Result<OrderReport, AppError> {
        self.engine.place(id, request).await
    }

    async fn set_carrier(&self, mode: CarrierMode) -> Result<(), AppError> {
        self.services.shipping.carrier().set_mode(mode);
        Ok(())
    }

    async fn set_gateway_delay(&self, delay: Duration) -> Result<(), AppError> {
        self.services.payment.gateway().set_delay(delay);
        Ok(())
    }

    async fn metrics(&self) -> Result<Metrics, AppError> {
        Ok(Metrics::of(&self.services))
    }

    async fn snapshot(&self) -> Result<Snapshot, AppError> {
        Ok(self.services.snapshot().await?)
    }

    async fn shutdown(self: Box<Self>) {
        self.engine.shutdown().await;
        self.services.destroy().await;
    }
}
