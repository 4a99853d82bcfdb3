//! The CloudMart HTTP API against a server bound to 127.0.0.1:0, with the example's HTTP/1.1 client.

// Each test uses part of the example; the example binary itself is checked for dead code.
#[allow(dead_code)]
#[path = "../examples/cloudmart/lib.rs"]
mod cloudmart;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use cloudmart::crash::CrashOptions;
use cloudmart::db::DbSpec;
use cloudmart::scenarios::Env;
use cloudmart::services::ServicesConfig;

async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    cloudmart::http::client::json(addr, method, path, body.as_ref())
        .await
        .expect("an HTTP response")
}

fn env() -> Env {
    Env {
        log: Arc::new(saga::InMemoryLog::new()),
        config: ServicesConfig::default(),
        db: DbSpec::Memory,
        crash: CrashOptions::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_start_status_and_cancel_over_http() {
    let (addr, state, server) = cloudmart::http::start(&env(), "127.0.0.1:0")
        .await
        .expect("server");

    // A saga that runs to the end.
    let (code, started) = request(
        addr,
        "POST",
        "/saga/start",
        Some(json!({"orderId": "order-http-1", "customerId": "customer-001", "bookId": "book-123", "quantity": 1})),
    )
    .await;
    assert_eq!(code, 202, "{started}");
    state.wait_saga("order-http-1").await;
    let (code, status) = request(addr, "GET", "/saga/order-http-1/status", None).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "COMPLETED", "{status:#}");
    assert_eq!(
        status["states"],
        json!([
            "STARTED",
            "ORDER_CREATED",
            "STOCK_RESERVED",
            "PAYMENT_COMPLETED",
            "SHIPPING_ARRANGED",
            "COMPLETED"
        ])
    );
    let (code, _) = request(addr, "POST", "/saga/order-http-1/cancel", None).await;
    assert_eq!(code, 409, "a finished saga cannot be cancelled");

    // A saga cancelled while the payment gateway holds it in process_payment.
    let gateway = state.services.payment.gateway();
    gateway.set_paused(true);
    let (code, _) = request(
        addr,
        "POST",
        "/saga/start",
        Some(
            json!({"orderId": "order-http-2", "customerId": "customer-002",
                    "items": [{"bookId": "book-789", "quantity": 2}]}),
        ),
    )
    .await;
    assert_eq!(code, 202);
    gateway.wait_in_flight(1).await;
    let (code, body) = request(addr, "POST", "/saga/order-http-2/cancel", None).await;
    assert_eq!(code, 202, "{body}");
    gateway.set_paused(false);
    state.wait_saga("order-http-2").await;
    let (code, status) = request(addr, "GET", "/saga/order-http-2/status", None).await;
    assert_eq!(code, 200);
    assert_eq!(status["state"], "FAILED", "{status:#}");
    assert!(status["states"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("COMPENSATION_STARTED"))));
    // The charge made by the running step was refunded, the stock released.
    let wallets = state.services.payment.wallets().await.expect("wallets");
    assert_eq!(wallets.get("customer-002"), Some(&200_000));
    let (code, stock) = request(addr, "GET", "/inventory/book-789", None).await;
    assert_eq!(code, 200);
    assert_eq!(stock["availableStock"], 10);
    let violations = state
        .services
        .snapshot()
        .await
        .expect("snapshot")
        .violations();
    assert!(violations.is_empty(), "{violations:?}");

    // Bad input is a clear 4xx, never a panic.
    let (code, _) = request(addr, "GET", "/saga/nope/status", None).await;
    assert_eq!(code, 404);
    let (code, body) = request(
        addr,
        "POST",
        "/saga/start",
        Some(json!({"customerId": "customer-001", "bookId": "book-999"})),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_endpoints_and_choreographed_order() {
    let (addr, state, server) = cloudmart::http::start(&env(), "127.0.0.1:0")
        .await
        .expect("server");
    let (code, placed) = request(
        addr,
        "POST",
        "/orders",
        Some(json!({"orderId": "order-http-c1", "customerId": "customer-001", "bookId": "book-123", "quantity": 1, "price": 3500})),
    )
    .await;
    assert_eq!(code, 202, "{placed}");
    state
        .services
        .order
        .wait_final("order-http-c1")
        .await
        .expect("order");
    let (code, order) = request(addr, "GET", "/orders/order-http-c1", None).await;
    assert_eq!(code, 200);
    assert_eq!(order["status"], "COMPLETED", "{order:#}");
    let (code, shipment) = request(addr, "GET", "/shipping/order-http-c1", None).await;
    assert_eq!(code, 200);
    assert_eq!(shipment["status"], "Arranged");

    // The services directly: reserve, pay, refund, release, with idempotent retries.
    let reserve = json!({"orderId": "manual-1", "items": [{"bookId": "book-789", "quantity": 3}]});
    let (code, _) = request(addr, "POST", "/inventory/reserve", Some(reserve.clone())).await;
    assert_eq!(code, 200);
    let (code, _) = request(addr, "POST", "/inventory/reserve", Some(reserve)).await;
    assert_eq!(
        code, 200,
        "a retried reservation is answered again, not applied twice"
    );
    let (_, stock) = request(addr, "GET", "/inventory/book-789", None).await;
    assert_eq!(stock["availableStock"], 7);
    assert_eq!(stock["reservedStock"], 3);
    let pay = json!({"orderId": "manual-1", "customerId": "customer-002", "amount": 8400});
    let (code, _) = request(addr, "POST", "/payments/process", Some(pay.clone())).await;
    assert_eq!(code, 200);
    let (code, _) = request(addr, "POST", "/payments/process", Some(pay)).await;
    assert_eq!(code, 200);
    assert_eq!(
        state.services.payment.wallets().await.expect("wallets")["customer-002"],
        200_000 - 8400
    );
    let (code, _) = request(
        addr,
        "POST",
        "/payments/refund",
        Some(json!({"orderId": "manual-1"})),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = request(
        addr,
        "POST",
        "/inventory/release",
        Some(json!({"orderId": "manual-1"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        state.services.payment.wallets().await.expect("wallets")["customer-002"],
        200_000
    );
    let (_, stock) = request(addr, "GET", "/inventory/book-789", None).await;
    assert_eq!(stock["availableStock"], 10);
    let (code, _) = request(
        addr,
        "POST",
        "/payments/process",
        Some(json!({"orderId": "x"})),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = request(addr, "POST", "/orders", Some(json!({"bad": true}))).await;
    assert!((400..500).contains(&code));
    server.abort();
}
