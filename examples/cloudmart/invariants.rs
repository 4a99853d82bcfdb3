//! The cross-service invariants of CloudMart, checked on a [`Snapshot`] of every service's state
//! (read from the services' tables in-process, or gathered over HTTP from the service processes of a
//! cluster, which read theirs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cloudmart::seed::{BOOKS, CUSTOMERS};
use crate::cloudmart::services::inventory::{Reservation, ReservationStatus, StockLevel};
use crate::cloudmart::services::order::{Order, OrderStatus};
use crate::cloudmart::services::payment::{Payment, PaymentStatus};
use crate::cloudmart::services::shipping::{Shipment, ShipmentStatus};

/// What the four services hold at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// Orders by id (Order service).
    pub orders: BTreeMap<String, Order>,
    /// Stock by book (Inventory service).
    pub levels: BTreeMap<String, StockLevel>,
    /// Reservations by order (Inventory service).
    pub reservations: BTreeMap<String, Reservation>,
    /// Wallet balances by customer (Payment service).
    pub wallets: BTreeMap<String, u64>,
    /// Payments by order (Payment service).
    pub payments: BTreeMap<String, Payment>,
    /// Shipments by order (Shipping service).
    pub shipments: BTreeMap<String, Shipment>,
}

impl Snapshot {
    /// Checks the cross-service invariants; returns one message per violation.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let Self {
            orders,
            levels,
            reservations,
            wallets,
            payments,
            shipments,
        } = self;

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
        for (id, o) in orders {
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
