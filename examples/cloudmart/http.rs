//! The seed's HTTP API over one CloudMart world (`--serve ADDR`): the four services' endpoints, the
//! choreographed `POST /orders`, and the orchestrator's `/saga/...` endpoints.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use parking_lot::Mutex;
use saga::SagaId;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history;
use crate::cloudmart::model::{OrderLine, OrderRequest, OrderSaga, ServiceError};
use crate::cloudmart::orchestration::Orchestrator;
use crate::cloudmart::scenarios::Env;
use crate::cloudmart::seed;
use crate::cloudmart::services::{OrderStatus, Services};

/// The server's state: one world, both styles.
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
    orchestrator: Orchestrator,
    choreography: Choreography,
    sagas: Mutex<HashMap<String, SagaId>>,
    finished: watch::Sender<HashSet<String>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Waits until the orchestrated saga of `order_id` (started over HTTP) has ended.
    pub async fn wait_saga(&self, order_id: &str) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| done.contains(order_id)).await;
    }
}

type Shared = Arc<AppState>;

/// An API error as JSON.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(m) => Self(StatusCode::CONFLICT, m),
            ServiceError::Unavailable(m) => Self(StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

/// An item of an order request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    book_id: String,
    quantity: u32,
}

/// `POST /orders` and `POST /saga/start`: either `items` or the seed's single `bookId`/`quantity`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaceOrder {
    order_id: Option<String>,
    customer_id: String,
    items: Option<Vec<Item>>,
    book_id: Option<String>,
    quantity: Option<u32>,
}

impl PlaceOrder {
    fn into_request(self) -> Result<OrderRequest, ApiError> {
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
struct OrderRef {
    order_id: String,
    #[serde(default)]
    items: Vec<Item>,
    customer_id: Option<String>,
    amount: Option<u64>,
}

/// The idempotency key of a direct service call: the `Idempotency-Key` header, or one per order and
/// operation.
fn key(headers: &HeaderMap, order_id: &str, op: &str) -> String {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| format!("http/{order_id}/{op}"), |k| format!("http/{k}"))
}

/// Builds the world and the router.
///
/// # Errors
/// Transport subscriptions failed.
pub async fn app(env: &Env) -> Result<(Router, Shared), AppError> {
    let services = Services::seeded(&env.config);
    let owner = format!("cloudmart-http-{}", SagaId::new());
    let orchestrator = Orchestrator::start(
        &services,
        Arc::new(saga::InProcTransport::new()),
        Arc::clone(&env.log),
        &owner,
    )
    .await?;
    let choreography =
        Choreography::start(&services, Arc::new(saga::InProcTransport::new())).await?;
    let state = Arc::new(AppState {
        services,
        orchestrator,
        choreography,
        sagas: Mutex::new(HashMap::new()),
        finished: watch::Sender::new(HashSet::new()),
    });
    let router = Router::new()
        .route("/orders", post(place_order))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", put(cancel_order))
        .route("/inventory/reserve", post(reserve))
        .route("/inventory/release", post(release))
        .route("/inventory/{book_id}", get(get_stock))
        .route("/payments/process", post(pay))
        .route("/payments/cancel", post(cancel_payment))
        .route("/payments/refund", post(refund))
        .route("/shipping/arrange", post(arrange))
        .route("/shipping/cancel", post(cancel_shipping))
        .route("/shipping/{order_id}", get(get_shipment))
        .route("/saga/start", post(saga_start))
        .route("/saga/{order_id}/status", get(saga_status))
        .route("/saga/{order_id}/cancel", post(saga_cancel))
        .with_state(Arc::clone(&state));
    Ok((router, state))
}

/// Binds `addr` and serves until the task is dropped; returns the bound address.
///
/// # Errors
/// Binding failed.
pub async fn start(
    env: &Env,
    addr: &str,
) -> Result<(SocketAddr, Shared, tokio::task::JoinHandle<()>), AppError> {
    let (router, state) = app(env).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("http server stopped: {e}");
        }
    });
    Ok((local, state, task))
}

/// `--serve ADDR`: serves until Ctrl-C.
///
/// # Errors
/// Binding failed.
pub async fn serve(addr: &str, env: Env) -> Result<(), AppError> {
    let (local, _state, task) = start(&env, addr).await?;
    println!("CloudMart HTTP API on http://{local} (Ctrl-C to stop)");
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn place_order(State(s): State<Shared>, Json(body): Json<PlaceOrder>) -> ApiResult {
    let request = body.into_request()?;
    let saga = SagaId::new();
    s.choreography
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

async fn get_order(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let order = s
        .services
        .order
        .order(&id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown order {id}")))?;
    ok(json!(order))
}

async fn cancel_order(
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

async fn reserve(
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

async fn release(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "release");
    let outcome = s.services.inventory.release(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "released": format!("{outcome:?}") }))
}

async fn get_stock(State(s): State<Shared>, Path(book): Path<String>) -> ApiResult {
    let level = s
        .services
        .inventory
        .level(&book)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown book {book}")))?;
    ok(
        json!({ "bookId": book, "title": level.title, "price": level.price,
               "availableStock": level.available, "reservedStock": level.reserved }),
    )
}

async fn pay(State(s): State<Shared>, headers: HeaderMap, Json(r): Json<OrderRef>) -> ApiResult {
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

async fn cancel_payment(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "cancel-payment");
    let outcome = s.services.payment.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "outcome": format!("{outcome:?}") }))
}

async fn refund(State(s): State<Shared>, headers: HeaderMap, Json(r): Json<OrderRef>) -> ApiResult {
    let k = key(&headers, &r.order_id, "refund");
    let outcome = s.services.payment.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "outcome": format!("{outcome:?}") }))
}

async fn arrange(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "arrange");
    let tracking = s.services.shipping.arrange(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "trackingNumber": tracking }))
}

async fn cancel_shipping(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<OrderRef>,
) -> ApiResult {
    let k = key(&headers, &r.order_id, "cancel-shipping");
    s.services.shipping.cancel(&k, &r.order_id).await?;
    ok(json!({ "orderId": r.order_id, "status": "CANCELLED" }))
}

async fn get_shipment(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let shipment = s
        .services
        .shipping
        .shipment(&id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no shipment for {id}")))?;
    ok(json!(shipment))
}

async fn saga_start(State(s): State<Shared>, Json(body): Json<PlaceOrder>) -> ApiResult {
    let request = body.into_request()?;
    let order_id = request.order_id.clone();
    let id = SagaId::new();
    {
        let mut sagas = s.sagas.lock();
        if sagas.contains_key(&order_id) {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("a saga for {order_id} exists"),
            ));
        }
        sagas.insert(order_id.clone(), id);
    }
    let data = OrderSaga {
        request,
        payment_id: None,
        tracking_number: None,
    };
    let handle = match s.orchestrator.executor().start_with_id(id, data).await {
        Ok(h) => h,
        Err(e) => {
            s.sagas.lock().remove(&order_id);
            return Err(AppError::from(e).into());
        }
    };
    let state = Arc::clone(&s);
    let done = order_id.clone();
    tokio::spawn(async move {
        let _ = handle.outcome().await;
        state.finished.send_modify(|f| {
            f.insert(done);
        });
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "orderId": order_id, "sagaId": id.to_string(), "style": "orchestration" })),
    ))
}

fn saga_of(s: &AppState, order_id: &str) -> Result<SagaId, ApiError> {
    s.sagas.lock().get(order_id).copied().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no saga for order {order_id}"),
        )
    })
}

async fn saga_status(State(s): State<Shared>, Path(order_id): Path<String>) -> ApiResult {
    let id = saga_of(&s, &order_id)?;
    let status = s
        .orchestrator
        .executor()
        .status(id)
        .await
        .map_err(AppError::from)?;
    let report = history::from_status(&order_id, &status);
    let history: Vec<Value> = status
        .history
        .iter()
        .map(|h| {
            json!({ "event": h.event.as_str(), "step": h.step_name, "attempt": h.attempt,
                    "detail": h.detail, "atMs": h.at_ms })
        })
        .collect();
    ok(json!({
        "orderId": order_id,
        "sagaId": id.to_string(),
        "state": report.outcome,
        "sagaState": status.state.to_string(),
        "currentStep": status.current_step.as_ref().map(|c| json!({"step": c.name, "direction": c.direction.to_string()})),
        "states": report.states,
        "compensations": report.compensations,
        "history": history,
    }))
}

async fn saga_cancel(State(s): State<Shared>, Path(order_id): Path<String>) -> ApiResult {
    let id = saga_of(&s, &order_id)?;
    match s.orchestrator.executor().cancel(id).await {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "orderId": order_id, "cancel": "requested" })),
        )),
        Err(e @ saga::Error::CancelRefused { .. }) => {
            Err(ApiError(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}
