//! The Shipping service: shipments, and a carrier behind a circuit breaker.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::middleware::{CircuitBreakerConfig, CircuitBreakerLayer, Classify, MiddlewareError};
use serde::{Deserialize, Serialize};

use super::Infra;
use crate::cloudmart::model::{replay, Memo, ServiceError};

/// How the (mock) carrier behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CarrierMode {
    /// Books every shipment.
    Up = 0,
    /// Its system is down: every call fails (a transient error, counted by the breaker).
    Down = 1,
    /// It answers, but refuses the address (a business "no", not counted by the breaker).
    Rejects = 2,
}

/// Why the carrier failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// System outage.
    #[error("carrier system is down")]
    Down,
    /// Address refused.
    #[error("carrier refused the delivery address")]
    Rejected,
}

impl Classify for CarrierError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Down)
    }
}

/// The (mock) carrier; counts its calls.
#[derive(Debug, Default)]
pub struct Carrier {
    mode: AtomicU8,
    delay_ms: AtomicU64,
    calls: AtomicU64,
}

impl Carrier {
    /// Sets the behaviour.
    pub fn set_mode(&self, mode: CarrierMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Makes every call take `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Calls that reached the carrier.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn book(&self, order_id: &str) -> Result<String, CarrierError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        match self.mode.load(Ordering::SeqCst) {
            1 => Err(CarrierError::Down),
            2 => Err(CarrierError::Rejected),
            _ => Ok(format!("TRK-{order_id}-{n:04}")),
        }
    }
}

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

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    shipments: BTreeMap<String, Shipment>,
    /// Choreography: which of StockReserved / PaymentCompleted each order has seen.
    ready: BTreeMap<String, (bool, bool)>,
    memo: Memo,
}

/// The Shipping service.
#[derive(Debug)]
pub struct ShippingService {
    state: Mutex<State>,
    infra: Arc<Infra>,
    carrier: Carrier,
    breaker: CircuitBreakerLayer,
}

const KEY: &str = "shipping";

impl ShippingService {
    pub(super) fn restore(
        infra: Arc<Infra>,
        breaker: CircuitBreakerConfig,
    ) -> Result<Self, crate::cloudmart::store::StoreError> {
        let state = infra.durable.load::<State>(KEY)?.unwrap_or_default();
        Ok(Self {
            state: Mutex::new(state),
            infra,
            carrier: Carrier::default(),
            breaker: CircuitBreakerLayer::new(breaker),
        })
    }

    fn persist(&self, state: &State) -> Result<(), ServiceError> {
        self.infra
            .durable
            .save(KEY, state)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
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
    pub async fn arrange(&self, key: &str, order_id: &str) -> Result<String, ServiceError> {
        self.infra.crash.gate().await;
        if let Some(answer) = self.state.lock().memo.get(key) {
            return replay(answer);
        }
        let booked = self.breaker.call(|| self.carrier.book(order_id)).await;
        self.infra.crash.gate().await;
        let answer = match booked {
            Ok(tracking) => Ok(tracking),
            Err(MiddlewareError::Inner(CarrierError::Down)) => {
                return Err(ServiceError::Unavailable(CarrierError::Down.to_string()))
            }
            Err(MiddlewareError::Inner(e)) => Err(e.to_string()),
            Err(rejection) => Err(format!("no carrier available: {rejection}")),
        };
        {
            let mut s = self.state.lock();
            if let Some(answer) = s.memo.get(key) {
                return replay(answer);
            }
            if let Ok(tracking) = &answer {
                s.shipments.insert(
                    order_id.to_owned(),
                    Shipment {
                        tracking_number: tracking.clone(),
                        status: ShipmentStatus::Arranged,
                    },
                );
            }
            s.memo.insert(key.to_owned(), answer.clone());
            self.persist(&s)?;
        }
        self.infra.crash.effect_done("arrange_shipping").await;
        answer.map_err(ServiceError::Refused)
    }

    /// Calls a shipment off; tolerates "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn cancel(&self, key: &str, order_id: &str) -> Result<(), ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        if s.memo.contains_key(key) {
            return Ok(());
        }
        if let Some(shipment) = s.shipments.get_mut(order_id) {
            shipment.status = ShipmentStatus::Cancelled;
        }
        s.memo.insert(key.to_owned(), Ok("cancelled".into()));
        self.persist(&s)
    }

    /// Choreography: notes that stock (`stock = true`) or payment is in place; returns `true` once both
    /// are, i.e. when the shipment should be arranged.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn note_ready(&self, order_id: &str, stock: bool) -> Result<bool, ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        let entry = s.ready.entry(order_id.to_owned()).or_default();
        if stock {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
        let both = entry.0 && entry.1;
        self.persist(&s)?;
        Ok(both)
    }

    /// One order's shipment.
    #[must_use]
    pub fn shipment(&self, order_id: &str) -> Option<Shipment> {
        self.state.lock().shipments.get(order_id).cloned()
    }

    /// Every shipment, by order.
    #[must_use]
    pub fn shipments(&self) -> BTreeMap<String, Shipment> {
        self.state.lock().shipments.clone()
    }
}

impl ShippingService {
    /// Choreography: records that shipping `key` gave up (the carrier stayed down), so a redelivered
    /// event replays the failure instead of booking late.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn give_up(&self, key: &str, reason: &str) -> Result<(), ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        s.memo
            .entry(key.to_owned())
            .or_insert_with(|| Err(reason.to_owned()));
        self.persist(&s)
    }
}
