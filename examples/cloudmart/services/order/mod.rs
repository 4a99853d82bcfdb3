//! The Order service: orders, their lines, their status, and (in choreography) the events each order
//! has heard, in its tables `orders`, `order_items` and `events`.

pub mod handlers;
mod tables;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cloudmart::db::{Arg, Db, Key, Tx};

use crate::cloudmart::model::{replay, OrderLine, OrderRequest, ServiceError};
pub(super) use tables::SCHEMA;
use tables::{order_of, record_event, set_status, COLUMNS};

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

impl OrderStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
        }
    }

    fn parse(s: &str) -> Result<Self, ServiceError> {
        [Self::Pending, Self::Completed, Self::Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ServiceError::Unavailable(format!("corrupt order status {s:?}")))
    }
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

/// The Order service.
#[derive(Debug)]
pub struct OrderService {
    db: Db,
    changed: watch::Sender<u64>,
}

impl OrderService {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            changed: watch::Sender::new(0),
        }
    }

    /// The service's database.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Commits `tx` with `answer` under `key`; announces the change.
    async fn commit(&self, tx: Tx, key: &Key, answer: Result<String, String>) -> Finished {
        let done = tx.finish(key, answer).await?;
        self.changed.send_modify(|v| *v += 1);
        Ok(done)
    }

    /// Creates the order (status `Pending`) and records its `OrderCreated` event; returns its total.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] if it has no lines or the id is taken by another order.
    pub async fn create(
        &self,
        key: &Key,
        request: &OrderRequest,
        saga_id: Option<String>,
    ) -> Result<String, ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        let id = request.order_id.as_str();
        let answer = if request.lines.is_empty() {
            Err("an order needs at least one line".to_owned())
        } else if !tx
            .fetch("SELECT id FROM orders WHERE id = ?", &[Arg::Text(id)])
            .await?
            .is_empty()
        {
            Err(format!("order {id} exists"))
        } else {
            let total = request.total();
            tables::insert(&mut tx, request, saga_id.as_deref(), total).await?;
            record_event(&mut tx, id, "OrderCreated", None).await?;
            Ok(total.to_string())
        };
        let (answer, first) = self.commit(tx, key, answer).await?;
        if first {
            self.db.crash().effect_done("create_order").await;
        }
        replay(&answer)
    }

    /// Sets the final status (cancel or approve); idempotent per key.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] if the order is unknown or already ended the other way.
    pub async fn finish(
        &self,
        key: &Key,
        order_id: &str,
        status: OrderStatus,
    ) -> Result<(), ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT status FROM orders WHERE id = ?{}",
            self.db.for_update()
        );
        let current = tx.fetch(&sql, &[Arg::Text(order_id)]).await?;
        let current = match current.first() {
            Some(row) => Some(OrderStatus::parse(&row.text(0)?)?),
            None => None,
        };
        let answer = match current {
            // Cancelling an order that was never created: nothing to undo.
            None if status == OrderStatus::Cancelled => Ok("nothing".to_owned()),
            None => Err(format!("unknown order {order_id}")),
            Some(now) if now == OrderStatus::Pending || now == status => {
                set_status(&mut tx, order_id, status).await?;
                Ok(format!("{status:?}"))
            }
            Some(now) => Err(format!("order {order_id} is already {now:?}")),
        };
        let (answer, _) = self.commit(tx, key, answer).await?;
        replay(&answer).map(drop)
    }

    /// Choreography: records event `event` about an order (once per `key`) and updates its progress
    /// with `update`; returns the new final status if this event decided it.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be read or committed.
    pub async fn hear(
        &self,
        key: &Key,
        order_id: &str,
        event: &str,
        reason: Option<&str>,
        update: impl FnOnce(&mut Progress),
    ) -> Result<Option<OrderStatus>, ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM orders WHERE id = ?{}",
            self.db.for_update()
        );
        let rows = tx.fetch(&sql, &[Arg::Text(order_id)]).await?;
        let Some(row) = rows.first() else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut order = order_of(row)?;
        record_event(&mut tx, order_id, event, reason).await?;
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
        tx.execute(
            "UPDATE orders SET failure = ?, stock_progress = ?, payment_progress = ?, \
             shipping_progress = ?, failed = ? WHERE id = ?",
            &[
                Arg::OptText(order.failure.as_deref()),
                Arg::Int(p.stock.into()),
                Arg::Int(p.payment.into()),
                Arg::Int(p.shipping.into()),
                Arg::Int(p.failed.into()),
                Arg::Text(order_id),
            ],
        )
        .await?;
        if let Some(status) = decided {
            set_status(&mut tx, order_id, status).await?;
            let end = match status {
                OrderStatus::Completed => "OrderCompleted",
                _ => "OrderCancelled",
            };
            record_event(&mut tx, order_id, end, None).await?;
        }
        let answer = Ok(decided.map_or("", |s| s.as_str()).to_owned());
        let (_, first) = self.commit(tx, key, answer).await?;
        Ok(decided.filter(|_| first))
    }

    /// Waits until the order is no longer pending and returns it (`None` if unknown).
    ///
    /// # Errors
    /// The order cannot be read.
    pub async fn wait_final(&self, order_id: &str) -> Result<Option<Order>, ServiceError> {
        let mut rx = self.changed.subscribe();
        loop {
            match self.order(order_id).await? {
                Some(o) if o.status == OrderStatus::Pending => {}
                other => return Ok(other),
            }
            if rx.changed().await.is_err() {
                return self.order(order_id).await;
            }
        }
    }

    /// One order.
    ///
    /// # Errors
    /// The order cannot be read.
    pub async fn order(&self, order_id: &str) -> Result<Option<Order>, ServiceError> {
        Ok(tables::load(&self.db, Some(order_id))
            .await?
            .remove(order_id))
    }

    /// Every order.
    ///
    /// # Errors
    /// The orders cannot be read.
    pub async fn orders(&self) -> Result<BTreeMap<String, Order>, ServiceError> {
        tables::load(&self.db, None).await
    }
}

type Finished = Result<(Result<String, String>, bool), ServiceError>;
