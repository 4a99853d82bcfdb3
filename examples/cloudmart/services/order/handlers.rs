//! The Order service's handlers: the commands of the orchestrated saga and what it hears of the
//! choreography's events, each given the services by the participant builder (`with_state`).

use std::sync::Arc;

use saga::participant::{CommandContext, EventContext, State, StatefulBuilder};
use saga::{Direction, StepError};

use super::{OrderStatus, Progress};
use crate::cloudmart::db::Key;
use crate::cloudmart::events::{saga_of, transient, Event, Reactor, HEARD, HEARD_STEPS};
use crate::cloudmart::model::OrderSaga;
use crate::cloudmart::services::Services;

type Shared = State<Arc<Services>>;

/// `create_order`, its compensation `cancel_order`, and `approve_order`.
pub fn commands(builder: StatefulBuilder<Arc<Services>>) -> StatefulBuilder<Arc<Services>> {
    builder
        .command(
            "create_order",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let saga = Some(ctx.saga_id().to_string());
                let key = Key::command(ctx.idempotency_key());
                Ok::<_, StepError>(s.order.create(&key, &d.request, saga).await?)
            },
        )
        .command("cancel_order", |s, ctx, d| {
            finish(s, ctx, d, OrderStatus::Cancelled)
        })
        .command("approve_order", |s, ctx, d| {
            finish(s, ctx, d, OrderStatus::Completed)
        })
}

async fn finish(
    State(s): Shared,
    ctx: CommandContext,
    d: OrderSaga,
    status: OrderStatus,
) -> Result<(), StepError> {
    let key = Key::command(ctx.idempotency_key());
    Ok(s.order.finish(&key, &d.request.order_id, status).await?)
}

/// Every event of [`HEARD`] → the order's progress; the event that decides the order publishes
/// `OrderCompleted` or `OrderCancelled`.
pub fn reactions(mut builder: StatefulBuilder<Reactor>) -> StatefulBuilder<Reactor> {
    for topic in HEARD {
        builder = builder.event(topic, hear);
    }
    builder
}

async fn hear(State(r): State<Reactor>, ctx: EventContext, ev: Event) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let reason = match &ev {
        Event::StockUnavailable { reason, .. }
        | Event::PaymentFailed { reason, .. }
        | Event::ShippingFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    };
    let kind = ev.kind();
    let update = |p: &mut Progress| {
        p.failed |= reason.is_some();
        match kind {
            "StockReserved" => p.stock = p.stock.max(1),
            "StockUnavailable" | "StockReleased" => p.stock = 2,
            "PaymentCompleted" => p.payment = p.payment.max(1),
            "PaymentFailed" | "PaymentCancelled" | "PaymentRefunded" => p.payment = 2,
            "ShippingArranged" => p.shipping = 1,
            "ShippingFailed" => p.shipping = 2,
            _ => {}
        }
    };
    let order_id = ev.order_id().to_owned();
    let step = HEARD.iter().position(|k| *k == kind).unwrap_or(HEARD.len());
    let step = HEARD_STEPS + u32::try_from(step).unwrap_or(u32::MAX - HEARD_STEPS);
    let key = Key::event(saga, step, Direction::Forward);
    let decided = r
        .services
        .order
        .hear(&key, &order_id, kind, reason.as_deref(), update)
        .await
        .map_err(transient)?;
    match decided {
        Some(OrderStatus::Completed) => r.emit(saga, &Event::OrderCompleted { order_id }).await,
        Some(_) => r.emit(saga, &Event::OrderCancelled { order_id }).await,
        None => Ok(()),
    }
}
