//! The Order service's tables: `orders`, `order_items` and `events` (the order's event record), and
//! how an order is read from them.

use std::collections::BTreeMap;

use super::super::int;
use super::{Order, OrderStatus, Progress};
use crate::cloudmart::db::{Arg, Db, Row, Tx};
use crate::cloudmart::model::{OrderLine, OrderRequest, ServiceError};

/// The Order service's tables.
pub(in crate::cloudmart::services) const SCHEMA: &[&str] = &[
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

/// The columns of an order row, in [`order_of`]'s order.
pub(super) const COLUMNS: &str =
    "id, customer_id, status, total_amount, saga_id, failure, stock_progress, \
                       payment_progress, shipping_progress, failed";

/// The orders (all, or `only`) with their lines and events, in one transaction.
pub(super) async fn load(
    db: &Db,
    only: Option<&str>,
) -> Result<BTreeMap<String, Order>, ServiceError> {
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
    let mut tx = db.begin().await?;
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

/// An order row (without its lines and events).
pub(super) fn order_of(row: &Row) -> Result<Order, ServiceError> {
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

pub(super) async fn set_status(
    tx: &mut Tx,
    order_id: &str,
    status: OrderStatus,
) -> Result<(), ServiceError> {
    tx.execute(
        "UPDATE orders SET status = ? WHERE id = ?",
        &[Arg::Text(status.as_str()), Arg::Text(order_id)],
    )
    .await?;
    Ok(())
}

/// Appends an event to the order's record in `events`.
pub(super) async fn record_event(
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

/// Inserts a new order (status `PENDING`) with its lines.
pub(super) async fn insert(
    tx: &mut Tx,
    request: &OrderRequest,
    saga_id: Option<&str>,
    total: u64,
) -> Result<(), ServiceError> {
    let id = request.order_id.as_str();
    tx.execute(
        &format!("INSERT INTO orders ({COLUMNS}) VALUES (?, ?, 'PENDING', ?, ?, NULL, 0, 0, 0, 0)"),
        &[
            Arg::Text(id),
            Arg::Text(&request.customer_id),
            int(total),
            Arg::OptText(saga_id),
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
    Ok(())
}
