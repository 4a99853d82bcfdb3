//! The Inventory service's handlers: the commands of the orchestrated saga and its reactions to the
//! choreography's events, each given the services by the participant builder (`with_state`).

use std::sync::Arc;

use saga::participant::{EventContext, State, StatefulBuilder};
use saga::{Direction, StepError};

use super::Released;
use crate::cloudmart::db::Key;
use crate::cloudmart::events::{saga_of, transient, Event, Reactor, RESERVE};
use crate::cloudmart::model::{OrderSaga, ServiceError};
use crate::cloudmart::services::Services;

type Shared = State<Arc<Services>>;

/// `reserve_stock` and its compensation `release_stock`.
pub fn commands(builder: StatefulBuilder<Arc<Services>>) -> StatefulBuilder<Arc<Services>> {
    builder
        .command(
            "reserve_stock",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let r = &d.request;
                let key = Key::command(ctx.idempotency_key());
                Ok::<_, StepError>(s.inventory.reserve(&key, &r.order_id, &r.lines).await?)
            },
        )
        .command(
            "release_stock",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let key = Key::command(ctx.idempotency_key());
                s.inventory.release(&key, &d.request.order_id).await?;
                Ok::<_, StepError>(())
            },
        )
}

/// `OrderCreated` → reserve (`StockReserved` | `StockUnavailable`); `PaymentFailed` and
/// `ShippingFailed` → release (`StockReleased`).
pub fn reactions(builder: StatefulBuilder<Reactor>) -> StatefulBuilder<Reactor> {
    builder
        .event("OrderCreated", reserve)
        .event("PaymentFailed", release)
        .event("ShippingFailed", release)
}

async fn reserve(State(r): State<Reactor>, ctx: EventContext, ev: Event) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let Event::OrderCreated {
        order_id, lines, ..
    } = ev
    else {
        return Ok(());
    };
    let key = Key::event(saga, RESERVE, Direction::Forward);
    let next = match r.services.inventory.reserve(&key, &order_id, &lines).await {
        Ok(_) => Event::StockReserved { order_id },
        Err(ServiceError::Refused(reason)) => Event::StockUnavailable { order_id, reason },
        Err(e) => return Err(transient(e)),
    };
    r.emit(saga, &next).await
}

async fn release(State(r): State<Reactor>, ctx: EventContext, ev: Event) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let order_id = ev.order_id().to_owned();
    let key = Key::event(saga, RESERVE, Direction::Compensate);
    match r
        .services
        .inventory
        .release(&key, &order_id)
        .await
        .map_err(transient)?
    {
        Released::Returned | Released::NothingHeld => {
            r.emit(saga, &Event::StockReleased { order_id }).await
        }
        Released::WasRefused => Ok(()),
    }
}
