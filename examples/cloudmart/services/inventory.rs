//! The Inventory service: available vs reserved stock per book, reservations per order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::Infra;
use crate::cloudmart::model::{replay, Memo, OrderLine, ServiceError};
use crate::cloudmart::seed::BOOKS;

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

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    books: BTreeMap<String, StockLevel>,
    reservations: BTreeMap<String, Reservation>,
    refused: BTreeSet<String>,
    /// Orders released before they were reserved (choreography: PaymentFailed overtook OrderCreated).
    tombstones: BTreeSet<String>,
    memo: Memo,
}

/// The Inventory service.
#[derive(Debug)]
pub struct InventoryService {
    state: Mutex<State>,
    infra: Arc<Infra>,
}

const KEY: &str = "inventory";

impl InventoryService {
    pub(super) fn restore(infra: Arc<Infra>) -> Result<Self, crate::cloudmart::store::StoreError> {
        let state = match infra.durable.load::<State>(KEY)? {
            Some(s) => s,
            None => State {
                books: BOOKS
                    .iter()
                    .map(|b| {
                        (
                            b.id.to_owned(),
                            StockLevel {
                                title: b.title.to_owned(),
                                price: b.price,
                                available: b.stock,
                                reserved: 0,
                            },
                        )
                    })
                    .collect(),
                ..State::default()
            },
        };
        Ok(Self {
            state: Mutex::new(state),
            infra,
        })
    }

    fn persist(&self, state: &State) -> Result<(), ServiceError> {
        self.infra
            .durable
            .save(KEY, state)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    /// Reserves every line or none. Refused if a book is unknown or short.
    ///
    /// # Errors
    /// [`ServiceError::Refused`] when out of stock.
    pub async fn reserve(
        &self,
        key: &str,
        order_id: &str,
        lines: &[OrderLine],
    ) -> Result<String, ServiceError> {
        self.infra.crash.gate().await;
        let answer = {
            let mut s = self.state.lock();
            if let Some(answer) = s.memo.get(key) {
                return replay(answer);
            }
            let answer = if s.tombstones.contains(order_id) {
                Err(format!(
                    "order {order_id} was cancelled before its reservation"
                ))
            } else {
                try_reserve(&mut s, order_id, lines)
            };
            if answer.is_err() {
                s.refused.insert(order_id.to_owned());
            }
            s.memo.insert(key.to_owned(), answer.clone());
            self.persist(&s)?;
            answer
        };
        self.infra.crash.effect_done("reserve_stock").await;
        answer.map_err(ServiceError::Refused)
    }

    /// Gives an order's stock back; tolerates "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be persisted.
    pub async fn release(&self, key: &str, order_id: &str) -> Result<Released, ServiceError> {
        self.infra.crash.gate().await;
        let mut s = self.state.lock();
        if let Some(answer) = s.memo.get(key) {
            return Ok(match answer.as_deref() {
                Ok("returned") => Released::Returned,
                Ok("refused") => Released::WasRefused,
                _ => Released::NothingHeld,
            });
        }
        let s = &mut *s;
        let outcome = match s.reservations.get_mut(order_id) {
            Some(r) if r.status == ReservationStatus::Reserved => {
                r.status = ReservationStatus::Released;
                for (book, q) in &r.lines {
                    if let Some(level) = s.books.get_mut(book) {
                        level.reserved = level.reserved.saturating_sub(*q);
                        level.available = level.available.saturating_add(*q);
                    }
                }
                Released::Returned
            }
            Some(_) => Released::Returned,
            None if s.refused.contains(order_id) => Released::WasRefused,
            None => {
                s.tombstones.insert(order_id.to_owned());
                Released::NothingHeld
            }
        };
        let label = match outcome {
            Released::Returned => "returned",
            Released::WasRefused => "refused",
            Released::NothingHeld => "nothing",
        };
        s.memo.insert(key.to_owned(), Ok(label.to_owned()));
        self.persist(s)?;
        Ok(outcome)
    }

    /// One book's stock.
    #[must_use]
    pub fn level(&self, book_id: &str) -> Option<StockLevel> {
        self.state.lock().books.get(book_id).cloned()
    }

    /// Every book's stock.
    #[must_use]
    pub fn levels(&self) -> BTreeMap<String, StockLevel> {
        self.state.lock().books.clone()
    }

    /// Every reservation, by order.
    #[must_use]
    pub fn reservations(&self) -> BTreeMap<String, Reservation> {
        self.state.lock().reservations.clone()
    }
}

fn try_reserve(s: &mut State, order_id: &str, lines: &[OrderLine]) -> Result<String, String> {
    if lines.is_empty() {
        return Err("an order needs at least one line".into());
    }
    let mut wanted: BTreeMap<&str, u32> = BTreeMap::new();
    for l in lines {
        let q = wanted.entry(&l.book_id).or_default();
        *q = q.saturating_add(l.quantity);
    }
    for (book, q) in &wanted {
        let Some(level) = s.books.get(*book) else {
            return Err(format!("unknown book {book}"));
        };
        if level.available < *q {
            return Err(format!(
                "out of stock: {book} 「{}」 has {} available, {q} wanted",
                level.title, level.available
            ));
        }
    }
    for (book, q) in &wanted {
        if let Some(level) = s.books.get_mut(*book) {
            level.available -= *q;
            level.reserved += *q;
        }
    }
    s.reservations.insert(
        order_id.to_owned(),
        Reservation {
            lines: wanted.iter().map(|(b, q)| ((*b).to_owned(), *q)).collect(),
            status: ReservationStatus::Reserved,
        },
    );
    Ok(format!("reserved for {order_id}"))
}
