//! The Payment service: wallets, payment records, and a payment gateway behind a bulkhead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::middleware::{BulkheadConfig, BulkheadLayer};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Infra;
use crate::cloudmart::model::{replay, Memo, ServiceError};
use crate::cloudmart::seed::CUSTOMERS;

/// A payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    /// The money left the wallet.
    Captured,
    /// The money went back.
    Refunded,
}

/// One order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// e.g. `pay-order-0001`.
    pub payment_id: String,
    /// Who paid.
    pub customer_id: String,
    /// Charged amount.
    pub amount: u64,
    /// Refunded amount (0 or `amount`).
    pub refunded: u64,
    /// How often the wallet was debited for this order (must be 1).
    pub charges: u32,
    /// Captured or refunded.
    pub status: PaymentStatus,
}

/// What cancelling a payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The money went back.
    Refunded,
    /// Nothing was charged (yet): a late charge will be refused.
    NothingCharged,
    /// The charge had failed; nothing to do.
    WasRefused,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    wallets: BTreeMap<String, u64>,
    payments: BTreeMap<String, Payment>,
    refused: BTreeSet<String>,
    tombstones: BTreeSet<String>,
    memo: Memo,
}

/// The (mock) payment gateway: every authorization takes `delay`; it records its peak concurrency.
#[derive(Debug)]
pub struct Gateway {
    delay_ms: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicU64,
    /// While `true`, authorizations wait (tests use it to hold a saga mid-step).
    paused: watch::Sender<bool>,
}

impl Gateway {
    fn new() -> Self {
        Self {
            delay_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            paused: watch::Sender::new(false),
        }
    }

    /// Makes every authorization take `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Holds (`true`) or lets go (`false`) every authorization.
    #[allow(dead_code)] // used by tests/cloudmart_http.rs
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// Resolves once at least `n` authorizations are in flight.
    #[allow(dead_code)] // used by tests/cloudmart_http.rs
    pub async fn wait_in_flight(&self, n: usize) {
        let mut rx = self.paused.subscribe();
        while self.in_flight.load(Ordering::SeqCst) < n {
            // in_flight changes are announced by touching the watch channel.
            let _ = rx.changed().await;
        }
    }

    /// Authorizations made.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most authorizations ever in flight at once.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    async fn authorize(&self) -> Result<(), std::io::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.paused.send_modify(|_| {});
        let mut rx = self.paused.subscribe();
        let _ = rx.wait_for(|p| !*p).await;
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.paused.send_modify(|_| {});
        Ok(())
    }
}

/// The Payment service.
#[derive(Debug)]
pub struct PaymentService {
    state: Mutex<State>,
    infra: Arc<Infra>,
    gateway: Gateway,
    bulkhead: BulkheadLayer,
}

const KEY: &str = "payment";

impl PaymentService {
    pub(super) fn restore(
        infra: Arc<Infra>,
        bulkhead: BulkheadConfig,
    ) -> Result<Self, crate::cloudmart::store::StoreError> {
        let state = match infra.durable.load::<State>(KEY)? {
            Some(s) => s,
            None => State {
                wallets: CUSTOMERS
                    .iter()
                    .map(|c| (c.id.to_owned(), c.wallet))
                    .collect(),
                ..State::default()
            },
        };
        Ok(Self {
            state: Mutex::new(state),
            infra,
            gateway: Gateway::new(),
            bulkhead: BulkheadLayer::new(bulkhead),
        })
    }

    fn persist(&self, state: &State) -> Result<(), ServiceError> {
        self.infra
            .durable
            .save(KEY, state)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    /// The gateway, to make it slow or count its calls.
    #[must_use]
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The bulkhead around the gateway.
    #[must_use]
    pub fn bulkhead(&self) -> &BulkheadLayer {
        &self.bulkhead
    }

    /// Authorizes through the gateway (at most `max_concurrent` at once), then debits the wallet.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] if the wallet is too small or the payment was cancelled;
    /// [`ServiceError::Unavailable`] if the bulkhead is full.
    pub async fn charge(
        &self,
        key: &str,
        order_id: &str,
        customer_id: &str,
        amount: u64,
    ) -> Result<String, ServiceError> {
        self.infra.crash.gate().await;
        if let Some(answer) = self.state.lock().memo.get(key) {
            return replay(answer);
        }
        self.bulkhead
            .call(|| self.gateway.authorize())
            .await
            .map_err(|e| ServiceError::Unavailable(format!("payment gateway: {e}")))?;
        self.infra.crash.gate().await;
        let answer = {
            let mut guard = self.state.lock();
            let s = &mut *guard;
            if let Some(answer) = s.memo.get(key) {
                return replay(answer);
            }
            let balance = s.wallets.get(customer_id).copied();
            let answer = if s.tombstones.contains(order_id) {
                Err(format!("payment of {order_id} was cancelled"))
            } else if let Some(p) = s.payments.get(order_id) {
                // Another request for the same order (a different key): never charge twice.
                Ok(p.payment_id.clone())
            } else {
                match balance {
                    None => Err(format!("unknown customer {customer_id}")),
                    Some(b) if b < amount => Err(format!(
                        "insufficient funds: wallet of {customer_id} holds {b}, order costs {amount}"
                    )),
                    Some(b) => {
                        s.wallets.insert(customer_id.to_owned(), b - amount);
                        let payment_id = format!("pay-{order_id}");
                        s.payments.insert(
                            order_id.to_owned(),
                            Payment {
                                payment_id: payment_id.clone(),
                                customer_id: customer_id.to_owned(),
                                amount,
                                refunded: 0,
                                charges: 1,
                                status: PaymentStatus::Captured,
                            },
                        );
                        Ok(payment_id)
                    }
                }
            };
            if answer.is_err() {
                s.refused.insert(order_id.to_owned());
            }
            s.memo.insert(key.to_owned(), answer.clone());
            self.persist(s)?;
            answer
        };
        self.infra.crash.effect_done("process_payment").await;
        answer.map_err(ServiceError::Refused)
    }

    /// Refunds an order's payment, or marks it cancelled if nothing was charged yet; tolerates
    /// "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn cancel(&self, key: &str, order_id: &str) -> Result<Cancelled, ServiceError> {
        self.infra.crash.gate().await;
        let mut guard = self.state.lock();
        let s = &mut *guard;
        if let Some(answer) = s.memo.get(key) {
            return Ok(match answer.as_deref() {
                Ok("refunded") => Cancelled::Refunded,
                Ok("refused") => Cancelled::WasRefused,
                _ => Cancelled::NothingCharged,
            });
        }
        let outcome = match s.payments.get_mut(order_id) {
            Some(p) => {
                if p.status == PaymentStatus::Captured {
                    p.status = PaymentStatus::Refunded;
                    p.refunded = p.amount;
                    let wallet = s.wallets.entry(p.customer_id.clone()).or_default();
                    *wallet = wallet.saturating_add(p.amount);
                }
                Cancelled::Refunded
            }
            None if s.refused.contains(order_id) => Cancelled::WasRefused,
            None => {
                s.tombstones.insert(order_id.to_owned());
                Cancelled::NothingCharged
            }
        };
        let label = match outcome {
            Cancelled::Refunded => "refunded",
            Cancelled::WasRefused => "refused",
            Cancelled::NothingCharged => "nothing",
        };
        s.memo.insert(key.to_owned(), Ok(label.to_owned()));
        self.persist(s)?;
        Ok(outcome)
    }

    /// Wallet balances.
    #[must_use]
    pub fn wallets(&self) -> BTreeMap<String, u64> {
        self.state.lock().wallets.clone()
    }

    /// Payments by order.
    #[must_use]
    pub fn payments(&self) -> BTreeMap<String, Payment> {
        self.state.lock().payments.clone()
    }
}
