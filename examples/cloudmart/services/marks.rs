//! Per-order marks of the Inventory and Payment services (`<service>_marks`): an order whose step was
//! refused, or cancelled before its step ran (choreography: a failure event overtook `OrderCreated`),
//! so a late step is refused instead of applied.

use crate::cloudmart::db::{Arg, Tx};
use crate::cloudmart::model::ServiceError;

/// The table of per-order locks ([`lock`]).
pub(super) const LOCKS: &str =
    "CREATE TABLE IF NOT EXISTS order_locks (id VARCHAR(191) PRIMARY KEY)";

/// Locks order `order_id` in `tx`: a step and its compensation (choreography runs them concurrently)
/// see each other's effect or mark, never neither.
pub(super) async fn lock(tx: &mut Tx, order_id: &str) -> Result<(), ServiceError> {
    Ok(tx.lock("order_locks", order_id).await?)
}

/// The step was refused: a later compensation has nothing to undo.
pub(super) const REFUSED: &str = "refused";
/// Compensated before the step ran: a late step is refused.
pub(super) const CANCELLED: &str = "cancelled";

/// Whether `order_id` carries `mark` in `table`.
pub(super) async fn has(
    tx: &mut Tx,
    table: &str,
    order_id: &str,
    mark: &str,
) -> Result<bool, ServiceError> {
    let rows = tx
        .fetch(
            &format!("SELECT mark FROM {table} WHERE order_id = ? AND mark = ?"),
            &[Arg::Text(order_id), Arg::Text(mark)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Marks `order_id` with `mark` in `table` (once).
pub(super) async fn add(
    tx: &mut Tx,
    table: &str,
    order_id: &str,
    mark: &str,
) -> Result<(), ServiceError> {
    if !has(tx, table, order_id, mark).await? {
        tx.execute(
            &format!("INSERT INTO {table} (order_id, mark) VALUES (?, ?)"),
            &[Arg::Text(order_id), Arg::Text(mark)],
        )
        .await?;
    }
    Ok(())
}
