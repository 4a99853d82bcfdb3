//! The Shipping service: shipments (`shipments`), which of stock and payment each order has in place
//! (`shipping_ready`, choreography), and a carrier behind a circuit breaker.

pub mod handlers;

use std::collections::BTreeMap;

use saga::middleware::{CircuitBreakerConfig, CircuitBreakerLayer, MiddlewareError};
use serde::{Deserialize, Serialize};

use super::carrier::{Carrier, CarrierError};
use crate::cloudmart::db::{Arg, Db, Key};
use crate::cloudmart::model::{replay, ServiceError};

/// The Shipping service's tables.
pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS shipments (order_id VARCHAR(191) PRIMARY KEY, \
     tracking_number VARCHAR(191) NOT NULL, status VARCHAR(16) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS shipping_ready (order_id VARCHAR(191) PRIMARY KEY, \
     stock BIGINT NOT NULL, payment BIGINT NOT NULL)",
    super::marks::LOCKS,
];

/// A shipment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShipmentStatus {
    /// Booked with the carrier.
    Arranged,
    /// Called off.
    Cancelled,
}

/// One order's shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment {
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// Arranged or cancelled.
    pub status: ShipmentStatus,
}

/// The Shipping service.
#[derive(Debug)]
pub struct ShippingService {
    db: Db,
    carrier: Carrier,
    breaker: CircuitBreakerLayer,
}

impl ShippingService {
    pub(super) fn new(db: Db, breaker: CircuitBreakerConfig) -> Self {
        Self {
            db,
            carrier: Carrier::default(),
            breaker: CircuitBreakerLayer::new(breaker),
        }
    }

    /// The service's database.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The carrier, to make it fail or count its calls.
    #[must_use]
    pub fn carrier(&self) -> &Carrier {
        &self.carrier
    }

    /// The breaker around the carrier.
    #[must_use]
    pub fn breaker(&self) -> &CircuitBreakerLayer {
        &self.breaker
    }

    /// Books the shipment with the carrier, through the circuit breaker.
    ///
    /// An open breaker fails fast without calling the carrier; the service treats that as a refusal
    /// ("no carrier available now"), so the order is rolled back at once instead of waiting.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] (address refused, breaker open), [`ServiceError::Unavailable`]
    /// (carrier down: the caller may retry).
    pub async fn arrange(&self, key: &Key, order_id: &str) -> Result<String, ServiceError> {
        self.db.crash().gate().await;
        if let Some(answer) = self.db.seen(key).await? {
            return replay(&answer);
        }
        let booked = self.breaker.call(|| self.carrier.book(order_id)).await;
        self.db.crash().gate().await;
        let answer = match booked {
            Ok(tracking) => Ok(tracking),
            Err(MiddlewareError::Inner(CarrierError::Down)) => {
                return Err(ServiceError::Unavailable(CarrierError::Down.to_string()))
            }
            Err(MiddlewareError::Inner(e)) => Err(e.to_string()),
            Err(rejection) => Err(format!("no carrier available: {rejection}")),
        };
        let mut tx = self.db.begin().await?;
        if let Ok(tracking) = &answer {
            let args = [Arg::Text(tracking), Arg::Text(order_id)];
            let updated = tx
                .execute(
                    "UPDATE shipments SET tracking_number = ?, status = 'Arranged' \
                     WHERE order_id = ?",
                    &args,
                )
                .await?;
            if updated == 0 {
                tx.execute(
                    "INSERT INTO shipments (tracking_number, order_id, status) \
                     VALUES (?, ?, 'Arranged')",
                    &args,
                )
                .await?;
            }
        }
        let (answer, first) = tx.finish(key, answer).await?;
        if first {
            self.db.crash().effect_done("arrange_shipping").await;
        }
        replay(&answer)
    }

    /// Calls a shipment off; tolerates "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be committed.
    pub async fn cancel(&self, key: &Key, order_id: &str) -> Result<(), ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        tx.execute(
            "UPDATE shipments SET status = 'Cancelled' WHERE order_id = ?",
            &[Arg::Text(order_id)],
        )
        .await?;
        let _stored = tx.finish(key, Ok("cancelled".into())).await?;
        Ok(())
    }

    /// Choreography: notes that stock (`stock = true`) or payment is in place; returns `true` once both
    /// are, i.e. when the shipment should be arranged.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be read or committed.
    pub async fn note_ready(&self, order_id: &str, stock: bool) -> Result<bool, ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        // StockReserved and PaymentCompleted may arrive at once: one after the other here.
        super::marks::lock(&mut tx, order_id).await?;
        let sql = format!(
            "SELECT stock, payment FROM shipping_ready WHERE order_id = ?{}",
            self.db.for_update()
        );
        let rows = tx.fetch(&sql, &[Arg::Text(order_id)]).await?;
        let (mut has_stock, mut has_payment) = match rows.first() {
            Some(r) => (r.int(0)? != 0, r.int(1)? != 0),
            None => (false, false),
        };
        if stock {
            has_stock = true;
        } else {
            has_payment = true;
        }
        let args = [
            Arg::Int(has_stock.into()),
            Arg::Int(has_payment.into()),
            Arg::Text(order_id),
        ];
        if rows.is_empty() {
            tx.execute(
                "INSERT INTO shipping_ready (stock, payment, order_id) VALUES (?, ?, ?)",
                &args,
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE shipping_ready SET stock = ?, payment = ? WHERE order_id = ?",
                &args,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(has_stock && has_payment)
    }

    /// Choreography: records that shipping `key` gave up (the carrier stayed down), so a redelivered
    /// event replays the failure instead of booking late.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be committed.
    pub async fn give_up(&self, key: &Key, reason: &str) -> Result<(), ServiceError> {
        self.db.crash().gate().await;
        let tx = self.db.begin().await?;
        let _stored = tx.finish(key, Err(reason.to_owned())).await?;
        Ok(())
    }

    /// One order's shipment.
    ///
    /// # Errors
    /// The shipments cannot be read.
    pub async fn shipment(&self, order_id: &str) -> Result<Option<Shipment>, ServiceError> {
        Ok(self.shipments().await?.remove(order_id))
    }

    /// Every shipment, by order.
    ///
    /// # Errors
    /// The shipments cannot be read.
    pub async fn shipments(&self) -> Result<BTreeMap<String, Shipment>, ServiceError> {
        let rows = self
            .db
            .read(
                "SELECT order_id, tracking_number, status FROM shipments",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let status = match r.text(2)?.as_str() {
                    "Arranged" => ShipmentStatus::Arranged,
                    _ => ShipmentStatus::Cancelled,
                };
                Ok((
                    r.text(0)?,
                    Shipment {
                        tracking_number: r.text(1)?,
                        status,
                    },
                ))
            })
            .collect()
    }
}
