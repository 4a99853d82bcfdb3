//! The Order service: orders, their status, and (in choreography) what each order has heard.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Infra;
use crate::cloudmart::model::{replay, Memo, OrderLine, OrderRequest, ServiceError};

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Being processed.
    Pending,
    /// Paid, reserved and shipped.
    Completed,
    /// Rolled back.
    Cancelled,
}

/// Choreography bookkeeping: the furthest each participant got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// 0 pending, 1 reserved, 2 unavailable or released.
    pub stock: u8,
    /// 0 pending, 1 completed, 2 failed, cancelled or refunded.
    pub payment: u8,
    /// 0 pending, 1 arranged, 2 failed.
    pub shipping: u8,
    /// A failure event (StockUnavailable, PaymentFailed, ShippingFailed) was heard.
    #[serde(default)]
    pub failed: bool,
}

/// One order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Order id.
    pub order_id: String,
    /// Customer.
    pub customer_id: String,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Amount to pay.
    pub total_amount: u64,
    /// Status.
    pub status: OrderStatus,
    /// The saga (orchestration) or event chain (choreography) id.
    pub saga_id: Option<String>,
    /// Choreography: the events this order received, in order.
    pub events: Vec<String>,
    /// Choreography: progress per participant.
    pub progress: Progress,
    /// Choreography: why it failed, from the first failure event.
    pub failure: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    orders: BTreeMap<String, Order>,
    memo: Memo,
}

/// The Order service.
#[derive(Debug)]
pub struct OrderService {
    state: Mutex<State>,
    infra: Arc<Infra>,
    changed: watch::Sender<u64>,
}

const KEY: &str = "order";

impl OrderService {
    pub(super) fn restore(infra: Arc<Infra>) -> Result<Self, crate::cloudmart::store::StoreError> {
        let state = infra.durable.load::<State>(KEY)?.unwrap_or_default();
        Ok(Self {
            state: Mutex::new(state),
            infra,
            changed: watch::Sender::new(0),
        })
    }

    fn persist(&self, state: &State) -> Result<(), ServiceError> {
        self.infra
            .durable
            .save(KEY, state)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Creates the order (status `Pending`); returns its total.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] if it has no lines or the id is taken by another order.
    pub async fn create(
        &self,
        key: &str,
        request: &OrderRequest,
        saga_id: Option<String>,
    ) -> Result<String, ServiceError> {
        self.infra.crash.gate().await;
        let answer = {
            let mut s = self.state.lock();
            if let Some(answer) = s.memo.get(key) {
                return replay(answer);
            }
            let answer = if request.lines.is_empty() {
                Err("an order needs at least one line".to_owned())
            } else if s.orders.contains_key(&request.order_id) {
                Err(format!("order {} exists", request.order_id))
            } else {
                let total = request.total();
                s.orders.insert(
                    request.order_id.clone(),
                    Order {
                        order_id: request.order_id.clone(),
                        customer_id: request.customer_id.clone(),
                        lines: request.lines.clone(),
                        total_amount: total,
                        status: OrderStatus::Pending,
                        saga_id,
                        events: vec!["OrderCreated".into()],
                        progress: Progress::default(),
                        failure: None,
                    },
                );
                Ok(total.to_string())
            };
            s.memo.insert(key.to_owned(), answer.clone());
            self.persist(&s)?;
            answer
        };
        self.infra.crash.effect_done("create_order").await;
        answer.map_err(ServiceError::Refused)
    }

    /// Sets the final status (cancel or approve); idempotent per key.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] if the order is unknown or already ended the other way.
    pub async fn finish(
        &self,
        key: &str,
        order_id: &str,
        status: OrderStatus,
    ) -> Result<(), ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        if let Some(answer) = s.memo.get(key) {
            return replay(answer).map(drop);
        }
        let answer = match s.orders.get_mut(order_id) {
            // Cancelling an order that was never created: nothing to undo.
            None if status == OrderStatus::Cancelled => Ok("nothing".to_owned()),
            None => Err(format!("unknown order {order_id}")),
            Some(o) if o.status == OrderStatus::Pending || o.status == status => {
                o.status = status;
                Ok(format!("{status:?}"))
            }
            Some(o) => Err(format!("order {order_id} is already {:?}", o.status)),
        };
        s.memo.insert(key.to_owned(), answer.clone());
        self.persist(&s)?;
        answer.map(drop).map_err(ServiceError::Refused)
    }

    /// Choreography: records an event about an order (once per event id) and updates its progress with
    /// `update`; returns the new final status if this event decided it.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn hear(
        &self,
        order_id: &str,
        event: &str,
        reason: Option<&str>,
        update: impl FnOnce(&mut Progress),
    ) -> Result<Option<OrderStatus>, ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        let memo_key = format!("{order_id}/heard/{event}");
        if s.memo.contains_key(&memo_key) {
            return Ok(None);
        }
        let Some(order) = s.orders.get_mut(order_id) else {
            return Ok(None);
        };
        order.events.push(event.to_owned());
        if order.failure.is_none() {
            order.failure = reason.map(str::to_owned);
        }
        update(&mut order.progress);
        let p = order.progress;
        let decided = if order.status != OrderStatus::Pending {
            None
        } else if p.shipping == 1 {
            Some(OrderStatus::Completed)
        } else if p.failed && p.stock == 2 && p.payment == 2 {
            Some(OrderStatus::Cancelled)
        } else {
            None
        };
        if let Some(status) = decided {
            order.status = status;
            order.events.push(
                match status {
                    OrderStatus::Completed => "OrderCompleted",
                    _ => "OrderCancelled",
                }
                .to_owned(),
            );
        }
        s.memo.insert(memo_key, Ok(String::new()));
        self.persist(&s)?;
        Ok(decided)
    }

    /// Waits until the order is no longer pending and returns it (`None` if unknown).
    pub async fn wait_final(&self, order_id: &str) -> Option<Order> {
        let mut rx = self.changed.subscribe();
        loop {
            match self.order(order_id) {
                Some(o) if o.status == OrderStatus::Pending => {}
                other => return other,
            }
            if rx.changed().await.is_err() {
                return self.order(order_id);
            }
        }
    }

    /// One order.
    #[must_use]
    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.state.lock().orders.get(order_id).cloned()
    }

    /// Every order.
    #[must_use]
    pub fn orders(&self) -> BTreeMap<String, Order> {
        self.state.lock().orders.clone()
    }
}
