//! The Inventory service's tables (`inventory`, `reservations`, `inventory_marks`) and the
//! reservation itself.

use std::collections::BTreeMap;

use crate::cloudmart::db::{Arg, Tx};
use crate::cloudmart::model::{OrderLine, ServiceError};
use crate::cloudmart::services::marks;

/// The Inventory service's tables.
pub(in crate::cloudmart::services) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS inventory (book_id VARCHAR(191) PRIMARY KEY, title TEXT NOT NULL, \
     price BIGINT NOT NULL, available_stock BIGINT NOT NULL, reserved_stock BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reservations (order_id VARCHAR(191) NOT NULL, \
     book_id VARCHAR(191) NOT NULL, quantity BIGINT NOT NULL, status VARCHAR(16) NOT NULL, \
     PRIMARY KEY (order_id, book_id))",
    "CREATE TABLE IF NOT EXISTS inventory_marks (order_id VARCHAR(191) NOT NULL, \
     mark VARCHAR(16) NOT NULL, PRIMARY KEY (order_id, mark))",
    marks::LOCKS,
];

/// The marks of refused and cancelled orders.
pub(super) const MARKS: &str = "inventory_marks";

/// Reserves the lines in `tx`: `Some(answer)`, or `None` if a conditional update lost a race (retry).
pub(super) async fn try_reserve(
    tx: &mut Tx,
    order_id: &str,
    lines: &[OrderLine],
) -> Result<Option<Result<String, String>>, ServiceError> {
    if lines.is_empty() {
        return Ok(Some(Err("an order needs at least one line".into())));
    }
    let held = tx
        .fetch(
            "SELECT book_id FROM reservations WHERE order_id = ?",
            &[Arg::Text(order_id)],
        )
        .await?;
    if !held.is_empty() {
        // Another request for the same order (a different key): never reserve twice.
        return Ok(Some(Ok(format!("reserved for {order_id}"))));
    }
    let mut wanted: BTreeMap<&str, u32> = BTreeMap::new();
    for l in lines {
        let q = wanted.entry(&l.book_id).or_default();
        *q = q.saturating_add(l.quantity);
    }
    for (book, q) in &wanted {
        let rows = tx
            .fetch(
                "SELECT title, available_stock FROM inventory WHERE book_id = ?",
                &[Arg::Text(book)],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(Some(Err(format!("unknown book {book}"))));
        };
        let available = row.int(1)?;
        if available < i64::from(*q) {
            return Ok(Some(Err(format!(
                "out of stock: {book} 「{}」 has {available} available, {q} wanted",
                row.text(0)?
            ))));
        }
    }
    // In book order, so concurrent reservations lock rows in the same order.
    for (book, q) in &wanted {
        let q = i64::from(*q);
        let updated = tx
            .execute(
                "UPDATE inventory SET available_stock = available_stock - ?, \
                 reserved_stock = reserved_stock + ? WHERE book_id = ? AND available_stock >= ?",
                &[Arg::Int(q), Arg::Int(q), Arg::Text(book), Arg::Int(q)],
            )
            .await?;
        if updated != 1 {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO reservations (order_id, book_id, quantity, status) \
             VALUES (?, ?, ?, 'Reserved')",
            &[Arg::Text(order_id), Arg::Text(book), Arg::Int(q)],
        )
        .await?;
    }
    Ok(Some(Ok(format!("reserved for {order_id}"))))
}
