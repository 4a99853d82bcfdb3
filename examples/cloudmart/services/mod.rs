//! The four CloudMart services, each owning its state, and the invariants that must hold between them.

pub mod inventory;
pub mod order;
pub mod payment;
pub mod shipping;

use std::sync::Arc;
use std::time::Duration;

use saga::middleware::{BulkheadConfig, CircuitBreakerConfig};

pub use inventory::{InventoryService, ReservationStatus};
pub use order::{OrderService, OrderStatus};
pub use payment::{PaymentService, PaymentStatus};
pub use shipping::{CarrierMode, ShipmentStatus, ShippingService};

use crate::cloudmart::seed::{BOOKS, CUSTOMERS};
use crate::cloudmart::store::{CrashSwitch, Durable, StoreError};

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

    /// Checks the cross-service invariants; returns one message per violation.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let orders = self.order.orders();
        let levels = self.inventory.levels();
        let reservations = self.inventory.reservations();
        let wallets = self.payment.wallets();
        let payments = self.payment.payments();
        let shipments = self.shipping.shipments();

        // Stock: nothing created or lost, nothing oversold, reserved == active reservations.
        for b in BOOKS {
            let Some(level) = levels.get(b.id) else {
                v.push(format!("book {} vanished", b.id));
                continue;
            };
            if level.available + level.reserved != b.stock {
                v.push(format!(
                    "{}: available {} + reserved {} != initial stock {}",
                    b.id, level.available, level.reserved, b.stock
                ));
            }
            let held: u32 = reservations
                .values()
                .filter(|r| r.status == ReservationStatus::Reserved)
                .flat_map(|r| r.lines.iter())
                .filter(|(book, _)| book == b.id)
                .map(|(_, q)| q)
                .sum();
            if held != level.reserved {
                v.push(format!(
                    "{}: reserved {} but reservations hold {held}",
                    b.id, level.reserved
                ));
            }
        }
        // Money: wallets plus captured payments equal the initial wallets.
        let initial: u64 = CUSTOMERS.iter().map(|c| c.wallet).sum();
        let in_wallets: u64 = wallets.values().sum();
        let captured: u64 = payments.values().map(|p| p.amount - p.refunded).sum();
        if in_wallets + captured != initial {
            v.push(format!(
                "money not conserved: wallets {in_wallets} + captured {captured} != {initial}"
            ));
        }
        for p in payments.values() {
            if p.charges != 1 {
                v.push(format!("{} charged {} times", p.payment_id, p.charges));
            }
        }
        // Per order: a completed order holds stock, a payment of its total and a shipment; a cancelled
        // one holds nothing (reservation released, payment refunded in full, shipment cancelled).
        for (id, o) in &orders {
            let reserved = reservations
                .get(id)
                .is_some_and(|r| r.status == ReservationStatus::Reserved);
            let payment = payments.get(id);
            let shipped = shipments
                .get(id)
                .is_some_and(|s| s.status == ShipmentStatus::Arranged);
            match o.status {
                OrderStatus::Completed => {
                    if !reserved {
                        v.push(format!("{id} completed without a reservation"));
                    }
                    match payment {
                        Some(p)
                            if p.status == PaymentStatus::Captured
                                && p.amount == o.total_amount => {}
                        _ => v.push(format!("{id} completed without a captured payment")),
                    }
                    if !shipped {
                        v.push(format!("{id} completed without a shipment"));
                    }
                }
                OrderStatus::Cancelled => {
                    if reserved {
                        v.push(format!(
                            "{id} cancelled but its reservation was not released"
                        ));
                    }
                    if let Some(p) = payment {
                        if p.status != PaymentStatus::Refunded || p.refunded != p.amount {
                            v.push(format!("{id} cancelled but its payment was not refunded"));
                        }
                    }
                    if shipped {
                        v.push(format!("{id} cancelled but its shipment was not cancelled"));
                    }
                }
                OrderStatus::Pending => v.push(format!("{id} is still pending")),
            }
        }
        v
    }
}
