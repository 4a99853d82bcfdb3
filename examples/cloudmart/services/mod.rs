//! The four CloudMart services, each owning its state in its own SQL database, and the invariants
//! that must hold between them.

pub mod carrier;
pub mod gateway;
pub mod inventory;
mod marks;
pub mod order;
pub mod payment;
pub mod shipping;

use std::sync::Arc;
use std::time::Duration;

use saga::middleware::{BulkheadConfig, CircuitBreakerConfig};

pub use carrier::CarrierMode;
pub use inventory::InventoryService;
pub use order::{OrderService, OrderStatus};
pub use payment::PaymentService;
pub use shipping::ShippingService;

pub use crate::cloudmart::invariants::Snapshot;

use crate::cloudmart::crash_switch::CrashSwitch;
use crate::cloudmart::db::{Arg, Db, DbError, DbSpec};
use crate::cloudmart::model::ServiceError;

/// One of the four services (also its participant's name and its `--role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Orders.
    Order,
    /// Stock.
    Inventory,
    /// Wallets and payments.
    Payment,
    /// Shipments.
    Shipping,
}

impl Service {
    /// The four services.
    pub const ALL: [Self; 4] = [Self::Order, Self::Inventory, Self::Payment, Self::Shipping];

    /// `order`, `inventory`, `payment` or `shipping`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Inventory => "inventory",
            Self::Payment => "payment",
            Self::Shipping => "shipping",
        }
    }
}

/// Middleware settings of the services.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The breaker around the carrier.
    pub breaker: CircuitBreakerConfig,
    /// The bulkhead around the payment gateway.
    pub bulkhead: BulkheadConfig,
}

impl Default for ServicesConfig {
    /// Breaker: opens after 3 consecutive carrier failures, half-opens after 200 ms (long enough
    /// for the outage scenario's failing-fast orders on a loaded machine). Bulkhead: 3
    /// concurrent gateway calls, 200 waiting, 5 s wait.
    fn default() -> Self {
        Self {
            breaker: CircuitBreakerConfig::default()
                .with_name("carrier")
                .with_consecutive_failures(3)
                .without_failure_rate()
                .with_open_duration(Duration::from_millis(200))
                .with_half_open_calls(1),
            bulkhead: BulkheadConfig::default()
                .with_name("payment-gateway")
                .with_max_concurrent(3)
                .with_max_waiting(200)
                .with_wait_timeout(Duration::from_secs(5)),
        }
    }
}

impl ServicesConfig {
    /// The settings of a service process, or of services on a database server: as the default, but
    /// the breaker stays open 3 s, so the carrier-outage scenario's orders, each a few HTTP, broker or
    /// database round trips, all meet the open breaker however loaded the machine is.
    #[must_use]
    pub fn across_processes() -> Self {
        let mut config = Self::default();
        config.breaker = config.breaker.with_open_duration(Duration::from_secs(3));
        config
    }
}

/// The four services of one CloudMart world.
#[derive(Debug)]
pub struct Services {
    /// Orders.
    pub order: OrderService,
    /// Stock.
    pub inventory: InventoryService,
    /// Wallets and payments.
    pub payment: PaymentService,
    /// Shipments.
    pub shipping: ShippingService,
}

impl Services {
    /// The services of world `name`, each on its own database under `spec` (seeded with the CloudMart
    /// data if empty, else continuing from what it holds), never crashing.
    ///
    /// # Errors
    /// A database cannot be opened or read.
    pub async fn open(
        spec: &DbSpec,
        name: &str,
        config: &ServicesConfig,
    ) -> Result<Arc<Self>, DbError> {
        Self::open_with(spec, name, config, CrashSwitch::never()).await
    }

    /// Fresh services on in-memory databases (for processes that only need the participants' shape).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn memory(config: &ServicesConfig) -> Result<Arc<Self>, DbError> {
        Self::open(&DbSpec::Memory, "memory", config).await
    }

    /// As [`open`](Self::open), crashing when `crash` says so.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with(
        spec: &DbSpec,
        name: &str,
        config: &ServicesConfig,
        crash: Arc<CrashSwitch>,
    ) -> Result<Arc<Self>, DbError> {
        Self::assemble(&|_| spec.clone(), name, config, crash).await
    }

    /// The services of a service process: `own` on its database under `spec`, the three others (not
    /// used there) in memory.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_one(
        own: Service,
        spec: &DbSpec,
        name: &str,
        config: &ServicesConfig,
    ) -> Result<Arc<Self>, DbError> {
        let spec_of = |s: Service| {
            if s == own {
                spec.clone()
            } else {
                DbSpec::Memory
            }
        };
        Self::assemble(&spec_of, name, config, CrashSwitch::never()).await
    }

    async fn assemble(
        spec_of: &(dyn Fn(Service) -> DbSpec + Sync),
        name: &str,
        config: &ServicesConfig,
        crash: Arc<CrashSwitch>,
    ) -> Result<Arc<Self>, DbError> {
        let open = |service: Service, schema: &'static [&'static str]| {
            let spec = spec_of(service);
            let crash = Arc::clone(&crash);
            async move { Db::open(&spec, name, service, crash, schema).await }
        };
        let seeding = |e: ServiceError| DbError::Corrupt(format!("cannot seed: {e}"));
        Ok(Arc::new(Self {
            order: OrderService::new(open(Service::Order, order::SCHEMA).await?),
            inventory: InventoryService::new(open(Service::Inventory, inventory::SCHEMA).await?)
                .await
                .map_err(seeding)?,
            payment: PaymentService::new(
                open(Service::Payment, payment::SCHEMA).await?,
                config.bulkhead.clone(),
            )
            .await
            .map_err(seeding)?,
            shipping: ShippingService::new(
                open(Service::Shipping, shipping::SCHEMA).await?,
                config.breaker.clone(),
            ),
        }))
    }

    fn dbs(&self) -> [&Db; 4] {
        [
            self.order.db(),
            self.inventory.db(),
            self.payment.db(),
            self.shipping.db(),
        ]
    }

    /// Closes the four databases' connections.
    pub async fn close(&self) {
        for db in self.dbs() {
            db.close().await;
        }
    }

    /// Deletes the four databases.
    pub async fn destroy(&self) {
        for db in self.dbs() {
            db.destroy().await;
        }
    }

    /// Everything the four services hold, read from their tables, for the invariant checks and the
    /// report.
    ///
    /// # Errors
    /// A database cannot be read.
    pub async fn snapshot(&self) -> Result<Snapshot, ServiceError> {
        Ok(Snapshot {
            orders: self.order.orders().await?,
            levels: self.inventory.levels().await?,
            reservations: self.inventory.reservations().await?,
            wallets: self.payment.wallets().await?,
            payments: self.payment.payments().await?,
            shipments: self.shipping.shipments().await?,
        })
    }
}

/// An amount or count as an SQL integer.
pub(crate) fn int(v: u64) -> Arg<'static> {
    Arg::Int(i64::try_from(v).unwrap_or(i64::MAX))
}
