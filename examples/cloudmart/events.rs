//! The events of the choreographed order flow, and what a service's reaction to them gets: its
//! services and a publisher ([`Reactor`]).

use std::sync::Arc;

use saga::participant::{EventContext, EventPublisher};
use saga::transport::MessageId;
use saga::{SagaId, StepError};
use serde::{Deserialize, Serialize};

use crate::cloudmart::model::{OrderLine, ServiceError};
use crate::cloudmart::services::Services;

/// The events of the order flow (one topic per event type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "eventType", rename_all_fields = "camelCase")]
#[allow(missing_docs)]
pub enum Event {
    OrderCreated {
        order_id: String,
        customer_id: String,
        lines: Vec<OrderLine>,
        total_amount: u64,
    },
    StockReserved {
        order_id: String,
    },
    StockUnavailable {
        order_id: String,
        reason: String,
    },
    StockReleased {
        order_id: String,
    },
    PaymentCompleted {
        order_id: String,
        payment_id: String,
        amount: u64,
    },
    PaymentFailed {
        order_id: String,
        reason: String,
    },
    PaymentCancelled {
        order_id: String,
    },
    PaymentRefunded {
        order_id: String,
    },
    ShippingArranged {
        order_id: String,
        tracking_number: String,
    },
    ShippingFailed {
        order_id: String,
        reason: String,
    },
    OrderCompleted {
        order_id: String,
    },
    OrderCancelled {
        order_id: String,
    },
}

impl Event {
    /// The event type, which is also its topic.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::OrderCreated { .. } => "OrderCreated",
            Self::StockReserved { .. } => "StockReserved",
            Self::StockUnavailable { .. } => "StockUnavailable",
            Self::StockReleased { .. } => "StockReleased",
            Self::PaymentCompleted { .. } => "PaymentCompleted",
            Self::PaymentFailed { .. } => "PaymentFailed",
            Self::PaymentCancelled { .. } => "PaymentCancelled",
            Self::PaymentRefunded { .. } => "PaymentRefunded",
            Self::ShippingArranged { .. } => "ShippingArranged",
            Self::ShippingFailed { .. } => "ShippingFailed",
            Self::OrderCompleted { .. } => "OrderCompleted",
            Self::OrderCancelled { .. } => "OrderCancelled",
        }
    }

    /// The order it is about.
    #[must_use]
    pub fn order_id(&self) -> &str {
        match self {
            Self::OrderCreated { order_id, .. }
            | Self::StockReserved { order_id }
            | Self::StockUnavailable { order_id, .. }
            | Self::StockReleased { order_id }
            | Self::PaymentCompleted { order_id, .. }
            | Self::PaymentFailed { order_id, .. }
            | Self::PaymentCancelled { order_id }
            | Self::PaymentRefunded { order_id }
            | Self::ShippingArranged { order_id, .. }
            | Self::ShippingFailed { order_id, .. }
            | Self::OrderCompleted { order_id }
            | Self::OrderCancelled { order_id } => order_id,
        }
    }
}

/// The state every reaction is given (`ParticipantBuilder::with_state`): the services of this
/// process and the publisher of the events it answers with.
#[derive(Debug, Clone)]
pub struct Reactor {
    /// The services.
    pub services: Arc<Services>,
    /// Publishes the next events.
    pub publisher: EventPublisher,
}

impl Reactor {
    /// Publishes `event` of order chain `saga` with its deterministic id.
    ///
    /// # Errors
    /// A transient error if the event could not be published.
    pub async fn emit(&self, saga: SagaId, event: &Event) -> Result<(), StepError> {
        emit(&self.publisher, saga, event).await
    }
}

/// The reactions' steps, numbered as in the orchestrated saga, in the inbox keys of the services'
/// reactions (`Key::event(chain, step, direction)`): a redelivered event finds its reaction's key.
pub const CREATE: u32 = 0;
pub const RESERVE: u32 = 1;
pub const CHARGE: u32 = 2;
pub const ARRANGE: u32 = 3;
/// The Order service records the `n`-th event type of [`HEARD`] under step `HEARD_STEPS + n`.
pub const HEARD_STEPS: u32 = 100;
/// The events the Order service hears.
pub const HEARD: [&str; 9] = [
    "StockReserved",
    "StockUnavailable",
    "StockReleased",
    "PaymentCompleted",
    "PaymentFailed",
    "PaymentCancelled",
    "PaymentRefunded",
    "ShippingArranged",
    "ShippingFailed",
];

/// Publishes `event` of order chain `saga` with its deterministic id.
///
/// # Errors
/// A transient error if the event could not be published.
pub async fn emit(
    publisher: &EventPublisher,
    saga: SagaId,
    event: &Event,
) -> Result<(), StepError> {
    let root = MessageId::from_uuid(*saga.as_uuid());
    let id = MessageId::derive(root, event.kind(), 0);
    publisher
        .publish_with_id(event.kind(), id, Some(saga), event)
        .await
        .map_err(|e| StepError::transient(format!("cannot publish {}: {e}", event.kind())))
}

/// The event chain an event belongs to.
///
/// # Errors
/// A permanent error for an event without one.
pub fn saga_of(ctx: &EventContext) -> Result<SagaId, StepError> {
    ctx.saga_id()
        .ok_or_else(|| StepError::permanent("event without a saga id"))
}

/// A service error as the reaction's error (a refusal is permanent, an outage transient).
#[must_use]
pub fn transient(e: ServiceError) -> StepError {
    StepError::from(e)
}
