//! The `/admin/...` endpoints the scenarios drive a service process with: its state (for the
//! invariant checks), its middleware figures, and the switches of the mock carrier and gateway.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ok, ApiError, ApiResult, Shared};
use crate::cloudmart::services::{CarrierMode, Service};
use crate::cloudmart::world::Metrics;

/// The admin routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/state", get(state))
        .route("/admin/metrics", get(metrics))
        .route("/admin/carrier", post(carrier))
        .route("/admin/gateway", post(gateway))
}

/// The parts of a [`Snapshot`](crate::cloudmart::services::Snapshot) this process owns.
async fn state(State(s): State<Shared>) -> ApiResult {
    let snapshot = serde_json::to_value(s.services.snapshot().await?)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut part = Map::new();
    for service in &s.own {
        let keys: &[&str] = match service {
            Service::Order => &["orders"],
            Service::Inventory => &["levels", "reservations"],
            Service::Payment => &["wallets", "payments"],
            Service::Shipping => &["shipments"],
        };
        for k in keys {
            part.insert((*k).to_owned(), snapshot[*k].clone());
        }
    }
    ok(Value::Object(part))
}

async fn metrics(State(s): State<Shared>) -> ApiResult {
    ok(json!(Metrics::of(&s.services)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CarrierSwitch {
    /// `up`, `down` or `rejects`.
    mode: String,
    /// How long each call takes (a slow carrier), if given.
    delay_ms: Option<u64>,
}

async fn carrier(State(s): State<Shared>, Json(c): Json<CarrierSwitch>) -> ApiResult {
    let mode = match c.mode.as_str() {
        "up" => CarrierMode::Up,
        "down" => CarrierMode::Down,
        "rejects" => CarrierMode::Rejects,
        other => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown carrier mode {other:?}: expected up, down or rejects"),
            ))
        }
    };
    let carrier = s.services.shipping.carrier();
    carrier.set_mode(mode);
    if let Some(ms) = c.delay_ms {
        carrier.set_delay(Duration::from_millis(ms));
    }
    ok(json!({ "mode": c.mode, "delayMs": c.delay_ms }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GatewaySwitch {
    delay_ms: u64,
}

async fn gateway(State(s): State<Shared>, Json(g): Json<GatewaySwitch>) -> ApiResult {
    s.services
        .payment
        .gateway()
        .set_delay(Duration::from_millis(g.delay_ms));
    ok(json!({ "delayMs": g.delay_ms }))
}
