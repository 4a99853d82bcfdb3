//! The middleware scenarios: the carrier's circuit breaker and the payment gateway's bulkhead.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use saga::SagaId;
use serde_json::{json, Value};

use super::{check, order, Check};
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::services::CarrierMode;
use crate::cloudmart::world::World;

/// What a scenario body fills in.
pub(super) struct Outcome<'a> {
    /// The orders placed, with their reports.
    pub orders: &'a mut Vec<OrderReport>,
    /// The checks.
    pub checks: &'a mut Vec<Check>,
    /// The measured values.
    pub facts: &'a mut BTreeMap<String, Value>,
}

/// The carrier goes down: the breaker opens after 3 failures, orders 3 and 4 fail fast, then it
/// half-opens and closes. Returns the expected outcome.
pub(super) async fn carrier_outage(
    world: &dyn World,
    id: &dyn Fn(usize) -> String,
    out: Outcome<'_>,
) -> Result<String, AppError> {
    let Outcome {
        orders,
        checks,
        facts,
    } = out;
    world.set_carrier(CarrierMode::Down).await?;
    let mut calls = Vec::new();
    for n in 1..=4 {
        let req = order(id(n), "customer-001", &[("book-789", 1)])?;
        orders.push(world.place(SagaId::new(), req).await?);
        calls.push(world.metrics().await?.carrier_calls);
    }
    let after_outage = world.metrics().await?;
    checks.push(check(
        "breaker opened after 3 consecutive carrier failures",
        after_outage.breaker == "Open" && calls[1] == 3,
        format!(
            "state {}, carrier calls after order 2: {}",
            after_outage.breaker, calls[1]
        ),
    ));
    checks.push(check(
        "orders 3 and 4 failed fast without calling the carrier",
        calls[3] == calls[1],
        format!("carrier calls after orders 1-4: {calls:?}"),
    ));
    world.set_carrier(CarrierMode::Up).await?;
    tokio::time::sleep(Duration::from_millis(after_outage.breaker_open_ms)).await;
    let state_after_wait = world.metrics().await?.breaker;
    for n in 5..=6 {
        let req = order(id(n), "customer-001", &[("book-789", 1)])?;
        orders.push(world.place(SagaId::new(), req).await?);
        calls.push(world.metrics().await?.carrier_calls);
    }
    let recovered = world.metrics().await?;
    checks.push(check(
        "breaker half-opened, the trial call succeeded and it closed",
        state_after_wait == "HalfOpen"
            && recovered.breaker == "Closed"
            && recovered.carrier_calls == 5,
        format!(
            "after the open duration: {state_after_wait}; after orders 5-6: {}; \
             carrier calls {}",
            recovered.breaker, recovered.carrier_calls
        ),
    ));
    facts.insert("carrier_calls".into(), json!(calls));
    Ok("2 COMPLETED, 4 FAILED".into())
}

/// The gateway is slow: 8 concurrent orders, at most the bulkhead's limit at the gateway at once.
/// Returns the expected outcome.
pub(super) async fn slow_gateway(
    world: &dyn World,
    id: &dyn Fn(usize) -> String,
    out: Outcome<'_>,
) -> Result<String, AppError> {
    let Outcome {
        orders,
        checks,
        facts,
    } = out;
    world.set_gateway_delay(Duration::from_millis(20)).await?;
    let requests = (1..=8)
        .map(|n| {
            let customer = if n % 2 == 0 {
                "customer-002"
            } else {
                "customer-001"
            };
            order(id(n), customer, &[("book-789", 1)])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = join_all(requests.into_iter().map(|r| world.place(SagaId::new(), r))).await;
    for r in results {
        orders.push(r?);
    }
    let m = world.metrics().await?;
    let (peak, limit) = (m.gateway_peak, m.bulkhead_limit);
    checks.push(check(
        "bulkhead capped concurrent gateway calls",
        peak <= limit && peak > 0,
        format!(
            "peak {peak} concurrent calls, limit {limit}, {} calls",
            m.gateway_calls
        ),
    ));
    facts.insert("gateway_peak_concurrency".into(), json!(peak));
    facts.insert("bulkhead_limit".into(), json!(limit));
    Ok("8 COMPLETED".into())
}
