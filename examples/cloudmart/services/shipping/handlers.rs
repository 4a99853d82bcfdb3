//! The Shipping service's handlers: the commands of the orchestrated saga and its reactions to the
//! choreography's events, each given the services by the participant builder (`with_state`).

use std::sync::Arc;
use std::time::Duration;

use saga::participant::{EventContext, State, StatefulBuilder};
use saga::{Direction, StepError};

use crate::cloudmart::db::Key;
use crate::cloudmart::events::{saga_of, transient, Event, Reactor, ARRANGE};
use crate::cloudmart::model::{OrderSaga, ServiceError};
use crate::cloudmart::services::Services;

type Shared = State<Arc<Services>>;

/// How often shipping calls a carrier that is down before it gives up on an order (choreography).
const CARRIER_ATTEMPTS: u32 = 2;

/// `arrange_shipping` and its compensation `cancel_shipping`.
pub fn commands(builder: StatefulBuilder<Arc<Services>>) -> StatefulBuilder<Arc<Services>> {
    builder
        .command(
            "arrange_shipping",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let key = Key::command(ctx.idempotency_key());
                Ok::<_, StepError>(s.shipping.arrange(&key, &d.request.order_id).await?)
            },
        )
        .command(
            "cancel_shipping",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let key = Key::command(ctx.idempotency_key());
                Ok::<_, StepError>(s.shipping.cancel(&key, &d.request.order_id).await?)
            },
        )
}

/// `StockReserved` + `PaymentCompleted` (in either order) → arrange (`ShippingArranged` |
/// `ShippingFailed`).
pub fn reactions(builder: StatefulBuilder<Reactor>) -> StatefulBuilder<Reactor> {
    builder
        .event("StockReserved", |r, ctx, ev| ready(r, ctx, ev, true))
        .event("PaymentCompleted", |r, ctx, ev| ready(r, ctx, ev, false))
}

async fn ready(
    State(r): State<Reactor>,
    ctx: EventContext,
    ev: Event,
    stock: bool,
) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let order_id = ev.order_id().to_owned();
    let shipping = &r.services.shipping;
    if !shipping
        .note_ready(&order_id, stock)
        .await
        .map_err(transient)?
    {
        return Ok(());
    }
    let key = Key::event(saga, ARRANGE, Direction::Forward);
    let mut attempt = 1;
    let next = loop {
        match shipping.arrange(&key, &order_id).await {
            Ok(tracking_number) => {
                break Event::ShippingArranged {
                    order_id,
                    tracking_number,
                }
            }
            Err(ServiceError::Refused(reason)) => break Event::ShippingFailed { order_id, reason },
            Err(ServiceError::Unavailable(reason)) if attempt >= CARRIER_ATTEMPTS => {
                // Outcome unknown: record the decision so a redelivery cannot revive it.
                shipping.give_up(&key, &reason).await.map_err(transient)?;
                break Event::ShippingFailed { order_id, reason };
            }
            Err(ServiceError::Unavailable(_)) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    r.emit(saga, &next).await
}
