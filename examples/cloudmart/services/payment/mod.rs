//! The Payment service: wallets (`wallets`), payment records (`payments`), which orders were refused
//! or cancelled before their charge (`payment_marks`), and a payment gateway behind a bulkhead.

pub mod handlers;

use std::collections::BTreeMap;

use saga::middleware::{BulkheadConfig, BulkheadLayer};
use serde::{Deserialize, Serialize};

use super::gateway::Gateway;
use super::{int, marks};
use crate::cloudmart::db::{Arg, Db, Key, Tx};
use crate::cloudmart::model::{replay, ServiceError};
use crate::cloudmart::seed::CUSTOMERS;

/// The Payment service's tables.
pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS wallets (customer_id VARCHAR(191) PRIMARY KEY, \
     name TEXT NOT NULL, balance BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS payments (id VARCHAR(191) PRIMARY KEY, \
     order_id VARCHAR(191) NOT NULL UNIQUE, customer_id VARCHAR(191) NOT NULL, \
     amount BIGINT NOT NULL, refunded BIGINT NOT NULL, charges BIGINT NOT NULL, \
     status VARCHAR(16) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS payment_marks (order_id VARCHAR(191) NOT NULL, \
     mark VARCHAR(16) NOT NULL, PRIMARY KEY (order_id, mark))",
    marks::LOCKS,
];

const MARKS: &str = "payment_marks";

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

/// The Payment service.
#[derive(Debug)]
pub struct PaymentService {
    db: Db,
    gateway: Gateway,
    bulkhead: BulkheadLayer,
}

impl PaymentService {
    /// The service on `db`, its wallets seeded if the `wallets` table is empty.
    pub(super) async fn new(db: Db, bulkhead: BulkheadConfig) -> Result<Self, ServiceError> {
        let mut tx = db.begin().await?;
        if tx
            .fetch("SELECT customer_id FROM wallets", &[])
            .await?
            .is_empty()
        {
            for c in CUSTOMERS {
                tx.execute(
                    "INSERT INTO wallets (customer_id, name, balance) VALUES (?, ?, ?)",
                    &[Arg::Text(c.id), Arg::Text(c.name), int(c.wallet)],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Self {
            db,
            gateway: Gateway::new(),
            bulkhead: BulkheadLayer::new(bulkhead),
        })
    }

    /// The service's database.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
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
        key: &Key,
        order_id: &str,
        customer_id: &str,
        amount: u64,
    ) -> Result<String, ServiceError> {
        self.db.crash().gate().await;
        if let Some(answer) = self.db.seen(key).await? {
            return replay(&answer);
        }
        self.bulkhead
            .call(|| self.gateway.authorize())
            .await
            .map_err(|e| ServiceError::Unavailable(format!("payment gateway: {e}")))?;
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        marks::lock(&mut tx, order_id).await?;
        let answer = debit(&mut tx, self.db.for_update(), order_id, customer_id, amount).await?;
        if answer.is_err() {
            marks::add(&mut tx, MARKS, order_id, marks::REFUSED).await?;
        }
        let (answer, first) = tx.finish(key, answer).await?;
        if first {
            self.db.crash().effect_done("process_payment").await;
        }
        replay(&answer)
    }

    /// Refunds an order's payment, or marks it cancelled if nothing was charged yet; tolerates
    /// "nothing to undo".
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] if the state cannot be read or committed.
    pub async fn cancel(&self, key: &Key, order_id: &str) -> Result<Cancelled, ServiceError> {
        self.db.crash().gate().await;
        let mut tx = self.db.begin().await?;
        marks::lock(&mut tx, order_id).await?;
        let sql = format!(
            "SELECT customer_id, amount, status FROM payments WHERE order_id = ?{}",
            self.db.for_update()
        );
        let rows = tx.fetch(&sql, &[Arg::Text(order_id)]).await?;
        let label = match rows.first() {
            Some(row) => {
                if row.text(2)? == "Captured" {
                    let (customer, amount) = (row.text(0)?, row.int(1)?);
                    tx.execute(
                        "UPDATE payments SET status = 'Refunded', refunded = amount \
                         WHERE order_id = ?",
                        &[Arg::Text(order_id)],
                    )
                    .await?;
                    tx.execute(
                        "UPDATE wallets SET balance = balance + ? WHERE customer_id = ?",
                        &[Arg::Int(amount), Arg::Text(&customer)],
                    )
                    .await?;
                }
                "refunded"
            }
            None if marks::has(&mut tx, MARKS, order_id, marks::REFUSED).await? => "refused",
            None => {
                marks::add(&mut tx, MARKS, order_id, marks::CANCELLED).await?;
                "nothing"
            }
        };
        let (answer, _) = tx.finish(key, Ok(label.to_owned())).await?;
        Ok(match answer.as_deref() {
            Ok("refunded") => Cancelled::Refunded,
            Ok("refused") => Cancelled::WasRefused,
            _ => Cancelled::NothingCharged,
        })
    }

    /// Wallet balances.
    ///
    /// # Errors
    /// The wallets cannot be read.
    pub async fn wallets(&self) -> Result<BTreeMap<String, u64>, ServiceError> {
        let rows = self
            .db
            .read("SELECT customer_id, balance FROM wallets", &[])
            .await?;
        rows.iter().map(|r| Ok((r.text(0)?, r.count(1)?))).collect()
    }

    /// Payments by order.
    ///
    /// # Errors
    /// The payments cannot be read.
    pub async fn payments(&self) -> Result<BTreeMap<String, Payment>, ServiceError> {
        let rows = self
            .db
            .read(
                "SELECT order_id, id, customer_id, amount, refunded, charges, status FROM payments",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let status = match r.text(6)?.as_str() {
                    "Captured" => PaymentStatus::Captured,
                    _ => PaymentStatus::Refunded,
                };
                Ok((
                    r.text(0)?,
                    Payment {
                        payment_id: r.text(1)?,
                        customer_id: r.text(2)?,
                        amount: r.count(3)?,
                        refunded: r.count(4)?,
                        charges: r.count(5)?,
                        status,
                    },
                ))
            })
            .collect()
    }
}

/// The charge itself, in `tx`: the answer (a payment id, or why not).
async fn debit(
    tx: &mut Tx,
    for_update: &str,
    order_id: &str,
    customer_id: &str,
    amount: u64,
) -> Result<Result<String, String>, ServiceError> {
    if marks::has(tx, MARKS, order_id, marks::CANCELLED).await? {
        return Ok(Err(format!("payment of {order_id} was cancelled")));
    }
    let existing = tx
        .fetch(
            "SELECT id FROM payments WHERE order_id = ?",
            &[Arg::Text(order_id)],
        )
        .await?;
    if let Some(row) = existing.first() {
        // Another request for the same order (a different key): never charge twice.
        return Ok(Ok(row.text(0)?));
    }
    let sql = format!("SELECT balance FROM wallets WHERE customer_id = ?{for_update}");
    let balance = match tx.fetch(&sql, &[Arg::Text(customer_id)]).await?.first() {
        Some(row) => row.count::<u64>(0)?,
        None => return Ok(Err(format!("unknown customer {customer_id}"))),
    };
    if balance < amount {
        return Ok(Err(format!(
            "insufficient funds: wallet of {customer_id} holds {balance}, order costs {amount}"
        )));
    }
    tx.execute(
        "UPDATE wallets SET balance = balance - ? WHERE customer_id = ?",
        &[int(amount), Arg::Text(customer_id)],
    )
    .await?;
    let payment_id = format!("pay-{order_id}");
    tx.execute(
        "INSERT INTO payments (id, order_id, customer_id, amount, refunded, charges, status) \
         VALUES (?, ?, ?, ?, 0, 1, 'Captured')",
        &[
            Arg::Text(&payment_id),
            Arg::Text(order_id),
            Arg::Text(customer_id),
            int(amount),
        ],
    )
    .await?;
    Ok(Ok(payment_id))
}
