//! The seed's state names, derived from the executor's history (orchestration) or from the events an
//! order received (choreography).

use saga::{EventKind, SagaId, SagaState, SagaStatus};
use serde::{Deserialize, Serialize};

use crate::cloudmart::model::Style;

/// What happened to one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReport {
    /// The order.
    pub order_id: String,
    /// The saga (or event chain) id.
    pub saga_id: String,
    /// How it ran.
    pub style: Style,
    /// `COMPLETED`, `FAILED`, or another seed state if it did not finish.
    pub outcome: String,
    /// The seed states it went through.
    pub states: Vec<String>,
    /// Compensations that ran (orchestration: steps; choreography: events), in order.
    pub compensations: Vec<String>,
    /// Why it failed, if it did.
    pub cause: Option<String>,
}

impl OrderReport {
    /// Prints the order and its state history.
    pub fn print(&self) {
        println!(
            "  {:<22} [{}] {}",
            self.order_id,
            self.style.as_str(),
            self.outcome
        );
        println!("      states: {}", self.states.join(" → "));
        if !self.compensations.is_empty() {
            println!("      compensated: {}", self.compensations.join(", "));
        }
        if let Some(cause) = &self.cause {
            println!("      cause: {cause}");
        }
    }
}

/// The seed state a forward step's completion leads to.
fn state_after(step: &str) -> Option<&'static str> {
    match step {
        "create_order" => Some("ORDER_CREATED"),
        "reserve_stock" => Some("STOCK_RESERVED"),
        "process_payment" => Some("PAYMENT_COMPLETED"),
        "arrange_shipping" => Some("SHIPPING_ARRANGED"),
        _ => None,
    }
}

/// Orchestration: maps `status().history` to seed states.
#[must_use]
pub fn from_status(order_id: &str, status: &SagaStatus) -> OrderReport {
    let mut states = Vec::new();
    let mut compensations = Vec::new();
    let mut cause = None;
    let mut compensating = false;
    for entry in &status.history {
        let step = entry.step_name.as_deref().unwrap_or("");
        match entry.event {
            EventKind::Started => states.push("STARTED".to_owned()),
            EventKind::StepCompleted => {
                if let Some(s) = state_after(step) {
                    states.push(s.to_owned());
                }
            }
            EventKind::StepRefused | EventKind::StepUnknown | EventKind::Aborted => {
                if !compensating {
                    compensating = true;
                    states.push("COMPENSATION_STARTED".to_owned());
                }
                let what = entry
                    .detail
                    .clone()
                    .unwrap_or_else(|| entry.event.to_string());
                cause = Some(if step.is_empty() {
                    what
                } else {
                    format!("{step}: {what}")
                });
            }
            EventKind::CompensationCompleted => {
                compensations.push(compensation_of(step).to_owned())
            }
            EventKind::Completed => states.push("COMPLETED".to_owned()),
            EventKind::Compensated => states.push("FAILED".to_owned()),
            EventKind::StuckForward | EventKind::StuckCompensating => {
                states.push("STUCK".to_owned())
            }
            EventKind::OperatorResolved => states.push("RESOLVED".to_owned()),
            _ => {}
        }
    }
    let outcome = match status.state {
        SagaState::Completed => "COMPLETED".to_owned(),
        SagaState::Compensated => "FAILED".to_owned(),
        SagaState::Stuck => "STUCK".to_owned(),
        SagaState::Resolved => "RESOLVED".to_owned(),
        _ => states
            .last()
            .cloned()
            .unwrap_or_else(|| "STARTED".to_owned()),
    };
    OrderReport {
        order_id: order_id.to_owned(),
        saga_id: status.id.to_string(),
        style: Style::Orchestration,
        outcome,
        states,
        compensations,
        cause,
    }
}

/// The compensation's name for a step of the order saga.
fn compensation_of(step: &str) -> &str {
    match step {
        "create_order" => "cancel_order",
        "reserve_stock" => "release_stock",
        "process_payment" => "refund_payment",
        "arrange_shipping" => "cancel_shipping",
        other => other,
    }
}

/// Choreography: maps the events an order received to seed states.
#[must_use]
pub fn from_events(
    order_id: &str,
    saga_id: &str,
    events: &[String],
    cause: Option<String>,
) -> OrderReport {
    // Forward states in the order they were heard, then the compensation, then the end: in a
    // choreography a late forward event (StockReserved after PaymentFailed) still happened first.
    let mut states = vec!["STARTED".to_owned()];
    let mut compensations = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut end = None;
    for e in events {
        match e.as_str() {
            "OrderCreated" => states.push("ORDER_CREATED".to_owned()),
            "StockReserved" => states.push("STOCK_RESERVED".to_owned()),
            "PaymentCompleted" => states.push("PAYMENT_COMPLETED".to_owned()),
            "ShippingArranged" => states.push("SHIPPING_ARRANGED".to_owned()),
            "OrderCompleted" => end = Some("COMPLETED"),
            "StockUnavailable" | "PaymentFailed" | "ShippingFailed" => failures.push(e.clone()),
            "StockReleased" | "PaymentRefunded" | "PaymentCancelled" => {
                compensations.push(e.clone());
            }
            "OrderCancelled" => end = Some("FAILED"),
            _ => {}
        }
    }
    if !failures.is_empty() {
        states.push("COMPENSATION_STARTED".to_owned());
    }
    if let Some(end) = end {
        states.push(end.to_owned());
    }
    let outcome = states.last().cloned().unwrap_or_default();
    let cause = match (failures.is_empty(), cause) {
        (true, cause) => cause,
        (false, Some(c)) => Some(format!("{}: {c}", failures.join(", "))),
        (false, None) => Some(failures.join(", ")),
    };
    OrderReport {
        order_id: order_id.to_owned(),
        saga_id: saga_id.to_owned(),
        style: Style::Choreography,
        outcome,
        states,
        compensations,
        cause,
    }
}

/// Choreography: the report of an order the Order service refused to create (the chain never started).
#[must_use]
pub fn refused(order_id: &str, saga: SagaId, cause: Option<String>) -> OrderReport {
    OrderReport {
        order_id: order_id.to_owned(),
        saga_id: saga.to_string(),
        style: Style::Choreography,
        outcome: "FAILED".into(),
        states: vec!["STARTED".into(), "FAILED".into()],
        compensations: vec![],
        cause,
    }
}
