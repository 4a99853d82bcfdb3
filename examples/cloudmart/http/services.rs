//! The four services' endpoints of the seed's API.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{key, ok, saga_id, ApiError, ApiResult, OrderRef, PlaceOrder, Shared};
use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::model::OrderLine;
use crate::cloudmart::seed;
use crate::cloudmart::services::OrderStatus;

pub(super) async fn place_order(
    State(s): State<Shared>,
    Json(body): Json<PlaceOrder>,
) -> ApiResult {
    let body_saga = body.saga_id.clone();
    let request = body.into_request()?;
    let saga = saga_id(body_saga.as_deref())?;
    s.choreography()?
        .start_order(saga, &request)
        .await
        .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "orderId": request.order_id, "sagaId": saga.to_string(), "style": "choreography" }),
        ),
    ))
}

/// `?wait=true`: answer once the order has ended.
#[derive(Debug, Deserialize)]
pub(super) struct Wait {
    #[serde(default)]
    wait: bool,
}

pub(super) async fn get_order(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<Wait>,
) -> ApiResult {
    let order = if q.wait {
        s.services.order.wait_final(&id).await?
    } else {
        s.services.order.order(&id).await?
    };
    let order =
        order.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown order {id}")))?;
    let report = Choreography::report_of(&id, Some(&order));
    let mut body = json!(order);
    body["report"] = json!(report);
    ok(body)
}

pub(super) async fn cancel_order(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let k = key(&headers, &id, "cancel");
    s.services
        .order
        .finish(&k, &id, OrderStatus::Cancelled)
        .await?;
    ok(json!({ "orderId": id, "status": "CANCELLED" }))
}

pub(super) async fn reserve(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let lines: Vec<OrderLine> = r
        .items
        .iter()
        .map(|i| OrderLine {
            book_id: i.book_id.clone(),
            quantity: i.quantity,
            unit_price: seed::book(&i.book_id).map_or(0, |b| b.price),
        })
        .collect();
    let k = key(&headers, &r.order_id, "reserve");
    let detail = s
        .services
        .inventory
        .reserve(&k, &r.order_id, &lines)
        .await?;
    ok(json!({ "orderId": r.order_id, "reserved": true, "detail": detail }))
}

pub(super) async fn release(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "release");
    let outcome = s.services.inventory.release(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "released": format!("{outcome:?}") }))
}

pub(super) async fn get_stock(State(s): State<Shared>, Path(book): Path<String>) -> ApiResult {
    let level = s
        .services
        .inventory
        .level(&book)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown book {book}")))?;
    ok(
        json!({ "bookId": book, "title": level.title, "price": level.price,
               "availableStock": level.available, "reservedStock": level.reserved }),
    )
}

pub(super) async fn pay(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let bad = |m: &str| ApiError(StatusCode::UNPROCESSABLE_ENTITY, m.to_owned());
    let customer = r
        .customer_id
        .as_deref()
        .ok_or_else(|| bad("customerId is required"))?;
    let amount = r.amount.ok_or_else(|| bad("amount is required"))?;
    let k = key(&headers, &r.order_id, "process");
    let payment_id = s
        .services
        .payment
        .charge(&k, &r.order_id, customer, amount)
        .await?;
    ok(json!({ "orderId": r.order_id, "paymentId": payment_id, "status": "COMPLETED" }))
}

pub(super) async fn cancel_payment(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "cancel-payment");
    let outcome = s.services.payment.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "outcome": format!("{outcome:?}") }))
}

pub(super) async fn refund(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "refund");
    let outcome = s.services.payment.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "outcome": format!("{outcome:?}") }))
}

pub(super) async fn arrange(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "arrange");
    let tracking = s.services.shipping.arrange(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "trackingNumber": tracking }))
}

pub(super) async fn cancel_shipping(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "cancel-shipping");
    s.services.shipping.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "status": "CANCELLED" }))
}

pub(super) async fn get_shipment(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let shipment = s
        .services
        .shipping
        .shipment(&id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no shipment for {id}")))?;
    ok(json!(shipment))
}
