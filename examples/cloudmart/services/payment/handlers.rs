//! The Payment service's handlers: the commands of the orchestrated saga and its reactions to the
//! choreography's events, each given the services by the participant builder (`with_state`).

use std::sync::Arc;

use saga::participant::{EventContext, State, StatefulBuilder};
use saga::{Direction, StepError};

use super::Cancelled;
use crate::cloudmart::db::Key;
use crate::cloudmart::events::{saga_of, transient, Event, Reactor, CHARGE};
use crate::cloudmart::model::{OrderSaga, ServiceError};
use crate::cloudmart::services::Services;

type Shared = State<Arc<Services>>;

/// `process_payment` and its compensation `refund_payment`.
pub fn commands(builder: StatefulBuilder<Arc<Services>>) -> StatefulBuilder<Arc<Services>> {
    builder
        .command(
            "process_payment",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let r = &d.request;
                let key = Key::command(ctx.idempotency_key());
                let (order, customer) = (&r.order_id, &r.customer_id);
                Ok::<_, StepError>(s.payment.charge(&key, order, customer, r.total()).await?)
            },
        )
        .command(
            "refund_payment",
            |State(s): Shared, ctx, d: OrderSaga| async move {
                let key = Key::command(ctx.idempotency_key());
                s.payment.cancel(&key, &d.request.order_id).await?;
                Ok::<_, StepError>(())
            },
        )
}

/// `OrderCreated` → charge (`PaymentCompleted` | `PaymentFailed`); `StockUnavailable` and
/// `ShippingFailed` → refund or cancel (`PaymentRefunded` | `PaymentCancelled`).
pub fn reactions(builder: StatefulBuilder<Reactor>) -> StatefulBuilder<Reactor> {
    builder
        .event("OrderCreated", charge)
        .event("StockUnavailable", cancel)
        .event("ShippingFailed", cancel)
}

async fn charge(State(r): State<Reactor>, ctx: EventContext, ev: Event) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let Event::OrderCreated {
        order_id,
        customer_id,
        total_amount,
        ..
    } = ev
    else {
        return Ok(());
    };
    let key = Key::event(saga, CHARGE, Direction::Forward);
    let charged = r
        .services
        .payment
        .charge(&key, &order_id, &customer_id, total_amount)
        .await;
    let next = match charged {
        Ok(payment_id) => Event::PaymentCompleted {
            order_id,
            payment_id,
            amount: total_amount,
        },
        Err(ServiceError::Refused(reason)) => Event::PaymentFailed { order_id, reason },
        Err(e) => return Err(transient(e)),
    };
    r.emit(saga, &next).await
}

async fn cancel(State(r): State<Reactor>, ctx: EventContext, ev: Event) -> Result<(), StepError> {
    let saga = saga_of(&ctx)?;
    let order_id = ev.order_id().to_owned();
    let key = Key::event(saga, CHARGE, Direction::Compensate);
    let cancelled = r.services.payment.cancel(&key, &order_id).await;
    match cancelled.map_err(transient)? {
        Cancelled::Refunded => r.emit(saga, &Event::PaymentRefunded { order_id }).await,
        Cancelled::NothingCharged => r.emit(saga, &Event::PaymentCancelled { order_id }).await,
        Cancelled::WasRefused => Ok(()),
    }
}
