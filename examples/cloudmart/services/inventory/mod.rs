//! The Inventory service: available vs reserved stock per book (`inventory`), the copies each order
//! holds (`reservations`), and which orders were refused or cancelled before their reservation
//! (`inventory_marks`).

pub mod handlers;
mod tables;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::marks;
use crate::cloudmart::db::{Arg, Db, Key};

use crate::cloudmart::model::{replay, OrderLine, ServiceError};
use crate::cloudmart::seed::BOOKS;
pub(super) use tables::SCHEMA;
use tables::{try_reserve, MARKS};

/// One book's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockLevel {
    /// Title.
    pub title: String,
    /// Price in yen.
    pub price: u64,
    /// Copies that can still be reserved.
    pub available: u32,
    /// Copies held by orders.
    pub reserved: u32,
}

/// A reservation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationStatus {
    /// Holding stock.
    Reserved,
    /// Given back.
    Released,
}

/// The copies one order holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// `(book, quantity)`.
    pub lines: Vec<(String, u32)>,
    /// Holding or released.
    pub status: ReservationStatus,
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Stock went back.
    Returned,
    /// Nothing was reserved (yet): the order is marked so a late reservation is refused.
    NothingHeld,
    /// The reservation had been refused; nothing to do.
    WasRefused,
}

/// The Inventory service.
#[derive(Debug)]
pub struct InventoryService {
    db: Db,
}

impl InventoryService {
    /// The service on `db`, seeded with the catalogue if its `inventory` table is empty.
    pub(super) async fn new(db: Db) -> Result<Self, ServiceError> {
        let mut tx = db.begin().await?;
        if tx
            .fetch("SELECT book_id FROM inventory", &[])
            .await?
            .is_empty()
        {
            for b in BOOKS {
                tx.execute(
                    "INSERT INTO inventory (book_id, title, price, available_stock, reserved_stock) \
                     VALUES (?, ?, ?, ?, 0)",
                    &[
                        Arg::Text(b.id),
                        Arg::Text(b.title),
                        super::int(b.price),
                        Arg::Int(b.stock.into()),
                    ],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Self { db })
    }

    /// The service's database.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Reserves every line or none. Refused if a book is unknown or short.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] when out of stock.
    pub async fn reserve(
        &self,
        key: &Key,
        order_id: &str,
        lines: &[OrderLine],
    ) -> Result<String, ServiceError> {
        self.db.crash().gate().await;
        let mut attempts = 0;
        let (answer, first) = loop {
            let mut tx = self.db.begin().await?;
            marks::lock(&mut tx, order_id).await?;
            let answer = if marks::has(&mut tx, MARKS, order_id, marks::CANCELLED).await? {
                Err(format!(
                    "order {order_id} was cancelled before its reservation"
                ))
            } else {
                match try_reserve(&mut tx, order_id, lines).await? {
                    Some(answer) => answer,
                    // Another transaction took the stock between the check and the update.
                    None if attempts < 10 => {
                        attempts += 1;
                        tx.rollback().await?;
                        continue;
                    }
                    None => return Err(ServiceError::Unavailable("stock contention".into())),
                }
            };
            if answer.is_err() {
                marks::add(&mut tx, MARKS, order_id, marks::REFUSED).await?;
            }
            break tx.finish(key, answer).await?;
        };
        if first {
            self.db.crash().effect_done("reserve_stock").await;
        }
        replay(&answer)
    }

    /// Gives an order's stock back; tolerates "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be read or committed.
    pub async fn release(&self, key: &Key, order_id: &str) -> Result<Released, ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        marks::lock(&mut tx, order_id).await?;
        let sql = format!(
            "SELECT book_id, quantity, status FROM reservations WHERE order_id = ?{}",
            self.db.for_update()
        );
        let rows = tx.fetch(&sql, &[Arg::Text(order_id)]).await?;
        let label = if rows.is_empty() {
            if marks::has(&mut tx, MARKS, order_id, marks::REFUSED).await? {
                "refused"
            } else {
                marks::add(&mut tx, MARKS, order_id, marks::CANCELLED).await?;
                "nothing"
            }
        } else {
            for row in &rows {
                if row.text(2)? != "Reserved" {
                    continue;
                }
                let (book, q) = (row.text(0)?, row.int(1)?);
                tx.execute(
                    "UPDATE inventory SET available_stock = available_stock + ?, \
                     reserved_stock = reserved_stock - ? WHERE book_id = ?",
                    &[Arg::Int(q), Arg::Int(q), Arg::Text(&book)],
                )
                .await?;
            }
            tx.execute(
                "UPDATE reservations SET status = 'Released' WHERE order_id = ?",
                &[Arg::Text(order_id)],
            )
            .await?;
            "returned"
        };
        let (answer, _) = tx.finish(key, Ok(label.to_owned())).await?;
        Ok(match answer.as_deref() {
            Ok("returned") => Released::Returned,
            Ok("refused") => Released::WasRefused,
            _ => Released::NothingHeld,
        })
    }

    /// One book's stock.
    ///
    /// # Errors
    /// The stock cannot be read.
    pub async fn level(&self, book_id: &str) -> Result<Option<StockLevel>, ServiceError> {
        Ok(self.levels().await?.remove(book_id))
    }

    /// Every book's stock.
    ///
    /// # Errors
    /// The stock cannot be read.
    pub async fn levels(&self) -> Result<BTreeMap<String, StockLevel>, ServiceError> {
        let rows = self
            .db
            .read(
                "SELECT book_id, title, price, available_stock, reserved_stock FROM inventory",
                &[],
            )
            .await?;
        let mut levels = BTreeMap::new();
        for row in &rows {
            levels.insert(
                row.text(0)?,
                StockLevel {
                    title: row.text(1)?,
                    price: row.count(2)?,
                    available: row.count(3)?,
                    reserved: row.count(4)?,
                },
            );
        }
        Ok(levels)
    }

    /// Every reservation, by order.
    ///
    /// # Errors
    /// The reservations cannot be read.
    pub async fn reservations(&self) -> Result<BTreeMap<String, Reservation>, ServiceError> {
        let rows = self
            .db
            .read(
                "SELECT order_id, book_id, quantity, status FROM reservations \
                 ORDER BY order_id, book_id",
                &[],
            )
            .await?;
        let mut all: BTreeMap<String, Reservation> = BTreeMap::new();
        for row in &rows {
            let status = match row.text(3)?.as_str() {
                "Reserved" => ReservationStatus::Reserved,
                _ => ReservationStatus::Released,
            };
            all.entry(row.text(0)?)
                .or_insert_with(|| Reservation {
                    lines: Vec::new(),
                    status,
                })
                .lines
                .push((row.text(1)?, row.count(2)?));
        }
        Ok(all)
    }
}
