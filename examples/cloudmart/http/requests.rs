//! The bodies and idempotency keys of the API's requests.

use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::ApiError;
use crate::cloudmart::db::Key;
use crate::cloudmart::model::{OrderLine, OrderRequest};
use crate::cloudmart::seed;

/// An item of an order request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item {
    pub(crate) book_id: String,
    pub(crate) quantity: u32,
}

/// `POST /orders` and `POST /saga/start`: either `items` or the seed's single `bookId`/`quantity`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlaceOrder {
    pub(crate) saga_id: Option<String>,
    order_id: Option<String>,
    customer_id: String,
    items: Option<Vec<Item>>,
    book_id: Option<String>,
    quantity: Option<u32>,
}

impl PlaceOrder {
    pub(crate) fn into_request(self) -> Result<OrderRequest, ApiError> {
        let bad = |m: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, m);
        let items = match (self.items, self.book_id) {
            (Some(items), None) if !items.is_empty() => items,
            (None, Some(book_id)) => vec![Item {
                book_id,
                quantity: self.quantity.unwrap_or(1),
            }],
            _ => return Err(bad("give either a non-empty `items` or `bookId`".into())),
        };
        let lines = items
            .into_iter()
            .map(|i| match seed::book(&i.book_id) {
                Some(b) if i.quantity > 0 => Ok(OrderLine {
                    book_id: b.id.to_owned(),
                    quantity: i.quantity,
                    unit_price: b.price,
                }),
                Some(_) => Err(bad(format!("quantity of {} must be positive", i.book_id))),
                None => Err(bad(format!("unknown book {:?}", i.book_id))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let order_id = match self.order_id {
            Some(id) if !id.is_empty() && id.len() <= 64 => id,
            Some(_) => return Err(bad("orderId must be 1..=64 characters".into())),
            None => format!("order-{}", uuid::Uuid::new_v4().simple()),
        };
        Ok(OrderRequest {
            order_id,
            customer_id: self.customer_id,
            lines,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderRef {
    pub(crate) order_id: String,
    #[serde(default)]
    pub(crate) items: Vec<Item>,
    pub(crate) customer_id: Option<String>,
    pub(crate) amount: Option<u64>,
}

/// The idempotency key of a direct service call: the `Idempotency-Key` header, or one per order and
/// operation.
pub(crate) fn key(headers: &HeaderMap, order_id: &str, op: &str) -> Key {
    let text = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| format!("{order_id}/{op}"), |k| format!("header/{k}"));
    Key::http(&text)
}
