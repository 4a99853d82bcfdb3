//! The Order service: orders, their lines, their status, and (in choreography) the events each order
//! has heard, in its tables `orders`, `order_items` and `events`.

pub mod handlers;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::int;
use crate::cloudmart::db::{Arg, Db, Key, Row, Tx};
use crate::cloudmart::model::{replay, OrderLine, OrderRequest, ServiceError};

/// The Order service's tables.
pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS orders (id VARCHAR(191) PRIMARY KEY, \
     customer_id VARCHAR(191) NOT NULL, status VARCHAR(16) NOT NULL, total_amount BIGINT NOT NULL, \
     saga_id VARCHAR(64), failure TEXT, stock_progress BIGINT NOT NULL, \
     payment_progress BIGINT NOT NULL, shipping_progress BIGINT NOT NULL, failed BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS order_items (order_id VARCHAR(191) NOT NULL, \
     line_no BIGINT NOT NULL, book_id VARCHAR(191) NOT NULL, quantity BIGINT NOT NULL, \
     unit_price BIGINT NOT NULL, PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE IF NOT EXISTS events (aggregate_id VARCHAR(191) NOT NULL, seq BIGINT NOT NULL, \
     event_type VARCHAR(64) NOT NULL, payload TEXT, PRIMARY KEY (aggregate_id, seq))",
];

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

const COLUMNS: &str = "id, customer_id, status, total_amount, saga_id, failure, stock_progress, \
                       payment_progress, shipping_progress, failed";

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
            tx.execute(
                &format!(
                    "INSERT INTO orders ({COLUMNS}) VALUES (?, ?, 'PENDING', ?, ?, NULL, 0, 0, 0, 0)"
                ),
                &[
                    Arg::Text(id),
                    Arg::Text(&request.customer_id),
                    int(total),
                    Arg::OptText(saga_id.as_deref()),
                ],
            )
            .await?;
            for (n, l) in request.lines.iter().enumerate() {
                tx.execute(
                    "INSERT INTO order_items (order_id, line_no, book_id, quantity, unit_price) \
                     VALUES (?, ?, ?, ?, ?)",
                    &[
                        Arg::Text(id),
                        int(n as u64),
                        Arg::Text(&l.book_id),
                        int(u64::from(l.quantity)),
                        int(l.unit_price),
                    ],
                )
                .await?;
            }
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
        Ok(self.load(Some(order_id)).await?.remove(order_id))
    }

    /// Every order.
    ///
    /// # Errors
    /// The orders cannot be read.
    pub async fn orders(&self) -> Result<BTreeMap<String, Order>, ServiceError> {
        self.load(None).await
    }

    /// The orders (all, or `only`) with their lines and events, in one transaction.
    async fn load(&self, only: Option<&str>) -> Result<BTreeMap<String, Order>, ServiceError> {
        let filter = if only.is_some() { " WHERE id = ?" } else { "" };
        let item_filter = if only.is_some() {
            " WHERE order_id = ?"
        } else {
            ""
        };
        let event_filter = if only.is_some() {
            " WHERE aggregate_id = ?"
        } else {
            ""
        };
        let args: Vec<Arg<'_>> = only.map(Arg::Text).into_iter().collect();
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(&format!("SELECT {COLUMNS} FROM orders{filter}"), &args)
            .await?;
        let mut orders = BTreeMap::new();
        for row in &rows {
            let order = order_of(row)?;
            orders.insert(order.order_id.clone(), order);
        }
        let items = tx
            .fetch(
                &format!(
                    "SELECT order_id, book_id, quantity, unit_price FROM order_items{item_filter} \
                     ORDER BY order_id, line_no"
                ),
                &args,
            )
            .await?;
        for row in &items {
            if let Some(o) = orders.get_mut(&row.text(0)?) {
                o.lines.push(OrderLine {
                    book_id: row.text(1)?,
                    quantity: row.count(2)?,
                    unit_price: row.count(3)?,
                });
            }
        }
        let events = tx
            .fetch(
                &format!(
                    "SELECT aggregate_id, event_type FROM events{event_filter} \
                     ORDER BY aggregate_id, seq"
                ),
                &args,
            )
            .await?;
        for row in &events {
            if let Some(o) = orders.get_mut(&row.text(0)?) {
                o.events.push(row.text(1)?);
            }
        }
        tx.rollback().await?;
        Ok(orders)
    }
}

type Finished = Result<(Result<String, String>, bool), ServiceError>;

/// An order row (without its lines and events).
fn order_of(row: &Row) -> Result<Order, ServiceError> {
    let small = |i: usize| row.count::<u8>(i);
    Ok(Order {
        order_id: row.text(0)?,
        customer_id: row.text(1)?,
        lines: Vec::new(),
        total_amount: row.count(3)?,
        status: OrderStatus::parse(&row.text(2)?)?,
        saga_id: row.opt_text(4)?,
        events: Vec::new(),
        progress: Progress {
            stock: small(6)?,
            payment: small(7)?,
            shipping: small(8)?,
            failed: row.int(9)? != 0,
        },
        failure: row.opt_text(5)?,
    })
}

async fn set_status(tx: &mut Tx, order_id: &str, status: OrderStatus) -> Result<(), ServiceError> {
    tx.execute(
        "UPDATE orders SET status = ? WHERE id = ?",
        &[Arg::Text(status.as_str()), Arg::Text(order_id)],
    )
    .await?;
    Ok(())
}

/// Appends an event to the order's record in `events`.
async fn record_event(
    tx: &mut Tx,
    order_id: &str,
    event: &str,
    payload: Option<&str>,
) -> Result<(), ServiceError> {
    let seen = tx
        .fetch(
            "SELECT COUNT(*) FROM events WHERE aggregate_id = ?",
            &[Arg::Text(order_id)],
        )
        .await?;
    let seq = seen.first().map(|r| r.int(0)).transpose()?.unwrap_or(0) + 1;
    tx.execute(
        "INSERT INTO events (aggregate_id, seq, event_type, payload) VALUES (?, ?, ?, ?)",
        &[
            Arg::Text(order_id),
            Arg::Int(seq),
            Arg::Text(event),
            Arg::OptText(payload),
        ],
    )
    .await?;
    Ok(())
}
