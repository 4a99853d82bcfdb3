//! The four CloudMart services, each owning its state, and the invariants that must hold between them.

pub mod inventory;
pub mod order;
pub mod payment;
pub mod shipping;

use std::sync::Arc;
use std::time::Duration;

use saga::middleware::{BulkheadConfig, CircuitBreakerConfig};

pub use inventory::InventoryService;
pub use order::{OrderService, OrderStatus};
pub use payment::PaymentService;
pub use shipping::{CarrierMode, ShippingService};

pub use crate::cloudmart::invariants::Snapshot;

use crate::cloudmart::store::{CrashSwitch, Durable, StoreError};

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

/// What every service shares with its host process: where it persists, and the crash switch.
#[derive(Debug)]
pub struct Infra {
    /// Snapshot store.
    pub durable: Arc<Durable>,
    /// Simulated crash.
    pub crash: Arc<CrashSwitch>,
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
    /// Breaker: opens after 3 consecutive carrier failures, half-opens after 50 ms. Bulkhead: 3
    /// concurrent gateway calls, 200 waiting, 5 s wait.
    fn default() -> Self {
        Self {
            breaker: CircuitBreakerConfig::default()
                .with_name("carrier")
                .with_consecutive_failures(3)
                .without_failure_rate()
                .with_open_duration(Duration::from_millis(50))
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
    /// The settings of a service process: as the default, but the breaker stays open 3 s, so the
    /// carrier-outage scenario's orders, each a few HTTP and broker round trips, all meet the open
    /// breaker however loaded the machine is.
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
    /// Fresh services seeded with the CloudMart data; nothing persisted, never crashing.
    #[must_use]
    pub fn seeded(config: &ServicesConfig) -> Arc<Self> {
        let infra = Infra {
            durable: Durable::disabled(),
            crash: CrashSwitch::never(),
        };
        match Self::restore(infra, config) {
            Ok(s) => s,
            // A disabled store holds nothing, so it cannot be corrupt.
            Err(e) => unreachable!("an empty store failed to load: {e}"),
        }
    }

    /// Services continuing from `infra.durable` (or seeded if it holds nothing).
    ///
    /// # Errors
    /// The stored snapshots do not decode.
    pub fn restore(infra: Infra, config: &ServicesConfig) -> Result<Arc<Self>, StoreError> {
        let infra = Arc::new(infra);
        Ok(Arc::new(Self {
            order: OrderService::restore(Arc::clone(&infra))?,
            inventory: InventoryService::restore(Arc::clone(&infra))?,
            payment: PaymentService::restore(Arc::clone(&infra), config.bulkhead.clone())?,
            shipping: ShippingService::restore(infra, config.breaker.clone())?,
        }))
    }

    /// Everything the four services hold, for the invariant checks and the report.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            orders: self.order.orders(),
            levels: self.inventory.levels(),
            reservations: self.inventory.reservations(),
            wallets: self.payment.wallets(),
            payments: self.payment.payments(),
            shipments: self.shipping.shipments(),
        }
    }
}
