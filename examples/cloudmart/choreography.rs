//! Choreography: no central driver. Services react to each other's events over the transport; each
//! effect is deduplicated per order, and every event id is derived from the order's saga id and the
//! event type, so a service that reacts again (after a redelivery or a restart) republishes the *same*
//! event and downstream services ignore it.
//!
//! ```text
//! OrderCreated ─┬─> Inventory: StockReserved | StockUnavailable
//!               └─> Payment:   PaymentCompleted | PaymentFailed
//! StockReserved + PaymentCompleted ─> Shipping: ShippingArranged | ShippingFailed
//! StockUnavailable ─> Payment: PaymentRefunded | PaymentCancelled
//! PaymentFailed    ─> Inventory: StockReleased
//! ShippingFailed   ─> Payment: PaymentRefunded, Inventory: StockReleased
//! Order: OrderCompleted | OrderCancelled
//! ```

use std::sync::Arc;
use std::time::Duration;

use saga::participant::{EventContext, EventPublisher, Participant};
use saga::transport::{MessageId, Transport};
use saga::{Direction, SagaId, StepError};
use serde::{Deserialize, Serialize};

use crate::cloudmart::db::Key;
use crate::cloudmart::error::AppError;
use crate::cloudmart::history::{self, OrderReport};
use crate::cloudmart::model::{OrderLine, OrderRequest, ServiceError};
use crate::cloudmart::services::inventory::Released;
use crate::cloudmart::services::order::{Order, Progress};
use crate::cloudmart::services::payment::Cancelled;
use crate::cloudmart::services::{OrderStatus, Service, Services};

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

/// The reactions' steps, numbered as in the orchestrated saga, in the inbox keys of the services'
/// reactions (`Key::event(chain, step, direction)`): a redelivered event finds its reaction's key.
const CREATE: u32 = 0;
const RESERVE: u32 = 1;
const CHARGE: u32 = 2;
const ARRANGE: u32 = 3;
/// The Order service records the `n`-th event type of [`HEARD`] under step `HEARD_STEPS + n`.
const HEARD_STEPS: u32 = 100;
/// The events the Order service hears.
const HEARD: [&str; 9] = [
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
async fn emit(publisher: &EventPublisher, saga: SagaId, event: &Event) -> Result<(), StepError> {
    let root = MessageId::from_uuid(*saga.as_uuid());
    let id = MessageId::derive(root, event.kind(), 0);
    publisher
        .publish_with_id(event.kind(), id, Some(saga), event)
        .await
        .map_err(|e| StepError::transient(format!("cannot publish {}: {e}", event.kind())))
}

fn saga_of(ctx: &EventContext) -> Result<SagaId, StepError> {
    ctx.saga_id()
        .ok_or_else(|| StepError::permanent("event without a saga id"))
}

fn transient(e: ServiceError) -> StepError {
    StepError::from(e)
}

/// The services wired as event-driven participants.
pub struct Choreography {
    services: Arc<Services>,
    publisher: EventPublisher,
    participants: Vec<Participant>,
}

impl std::fmt::Debug for Choreography {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choreography").finish_non_exhaustive()
    }
}

impl Choreography {
    /// Subscribes every service to the events it reacts to.
    ///
    /// # Errors
    /// The transport refused a subscription.
    pub async fn start(
        services: &Arc<Services>,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, AppError> {
        Self::start_with(services, transport, &Service::ALL).await
    }

    /// Subscribes the services `which` (the others run in other processes).
    ///
    /// # Errors
    /// The transport refused a subscription.
    pub async fn start_with(
        services: &Arc<Services>,
        transport: Arc<dyn Transport>,
        which: &[Service],
    ) -> Result<Self, AppError> {
        let publisher = EventPublisher::new(Arc::clone(&transport));
        let mut participants = Vec::new();
        for service in which {
            participants.push(match service {
                Service::Inventory => inventory(services, &transport, &publisher).await?,
                Service::Payment => payment(services, &transport, &publisher).await?,
                Service::Shipping => shipping(services, &transport, &publisher).await?,
                Service::Order => order(services, &transport, &publisher).await?,
            });
        }
        Ok(Self {
            services: Arc::clone(services),
            publisher,
            participants,
        })
    }

    /// Places an order under chain id `saga` (the Order service creates it and publishes
    /// `OrderCreated`) and waits until it completes or is cancelled.
    ///
    /// # Errors
    /// The event could not be published.
    pub async fn place(
        &self,
        saga: SagaId,
        request: OrderRequest,
    ) -> Result<OrderReport, AppError> {
        let key = Key::event(saga, CREATE, Direction::Forward);
        if let Err(e) = self
            .services
            .order
            .create(&key, &request, Some(saga.to_string()))
            .await
        {
            return Ok(history::refused(
                &request.order_id,
                saga,
                Some(e.to_string()),
            ));
        }
        self.publish_created(saga, &request).await?;
        self.wait(&request.order_id).await
    }

    async fn publish_created(&self, saga: SagaId, request: &OrderRequest) -> Result<(), AppError> {
        let event = Event::OrderCreated {
            order_id: request.order_id.clone(),
            customer_id: request.customer_id.clone(),
            lines: request.lines.clone(),
            total_amount: request.total(),
        };
        emit(&self.publisher, saga, &event)
            .await
            .map_err(|e| AppError::Log(e.to_string()))
    }

    /// Publishes `OrderCreated` (without waiting for the outcome); the order must exist.
    ///
    /// # Errors
    /// As [`place`](Self::place).
    pub async fn start_order(&self, saga: SagaId, request: &OrderRequest) -> Result<(), AppError> {
        let key = Key::event(saga, CREATE, Direction::Forward);
        self.services
            .order
            .create(&key, request, Some(saga.to_string()))
            .await
            .map_err(|e| AppError::Usage(e.to_string()))?;
        self.publish_created(saga, request).await
    }

    /// Waits for the order's end and reports it from the events it received.
    ///
    /// # Errors
    /// The order cannot be read.
    pub async fn wait(&self, order_id: &str) -> Result<OrderReport, AppError> {
        let order = self.services.order.wait_final(order_id).await?;
        Ok(Self::report_of(order_id, order.as_ref()))
    }

    /// The report of an order as it stands.
    #[must_use]
    pub fn report_of(order_id: &str, order: Option<&Order>) -> OrderReport {
        match order {
            Some(o) => history::from_events(
                order_id,
                o.saga_id.as_deref().unwrap_or(""),
                &o.events,
                o.failure.clone(),
            ),
            None => history::from_events(order_id, "", &[], Some("unknown order".into())),
        }
    }

    /// After a restart: republishes `OrderCreated` for every pending order; the services replay what
    /// they remember and the chain continues where it stopped. Returns how many orders resumed.
    ///
    /// # Errors
    /// The events could not be published.
    pub async fn resume(&self) -> Result<usize, AppError> {
        let pending: Vec<Order> = self
            .services
            .order
            .orders()
            .await?
            .into_values()
            .filter(|o| o.status == OrderStatus::Pending)
            .collect();
        for o in &pending {
            let Some(saga) = o.saga_id.as_deref().and_then(|s| s.parse::<SagaId>().ok()) else {
                continue;
            };
            let request = OrderRequest {
                order_id: o.order_id.clone(),
                customer_id: o.customer_id.clone(),
                lines: o.lines.clone(),
            };
            self.publish_created(saga, &request).await?;
        }
        Ok(pending.len())
    }

    /// Stops the participants after the messages in flight.
    pub async fn shutdown(self) {
        for p in self.participants {
            p.shutdown().await;
        }
    }

    /// Stops at once (a crash).
    pub fn abort(self) {
        for p in self.participants {
            p.abort();
        }
    }
}

async fn inventory(
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
    publisher: &EventPublisher,
) -> Result<Participant, AppError> {
    let (s1, p1) = (Arc::clone(services), publisher.clone());
    let (s2, p2) = (Arc::clone(services), publisher.clone());
    let release = move |ctx: EventContext, ev: Event| {
        let (s, p) = (Arc::clone(&s2), p2.clone());
        async move {
            let saga = saga_of(&ctx)?;
            let order_id = ev.order_id().to_owned();
            let key = Key::event(saga, RESERVE, Direction::Compensate);
            match s
                .inventory
                .release(&key, &order_id)
                .await
                .map_err(transient)?
            {
                Released::Returned | Released::NothingHeld => {
                    emit(&p, saga, &Event::StockReleased { order_id }).await
                }
                Released::WasRefused => Ok(()),
            }
        }
    };
    Ok(Participant::builder("inventory", Arc::clone(transport))
        .event("OrderCreated", move |ctx: EventContext, ev: Event| {
            let (s, p) = (Arc::clone(&s1), p1.clone());
            async move {
                let saga = saga_of(&ctx)?;
                let Event::OrderCreated {
                    order_id, lines, ..
                } = ev
                else {
                    return Ok(());
                };
                let key = Key::event(saga, RESERVE, Direction::Forward);
                let next = match s.inventory.reserve(&key, &order_id, &lines).await {
                    Ok(_) => Event::StockReserved { order_id },
                    Err(ServiceError::Refused(reason)) => {
                        Event::StockUnavailable { order_id, reason }
                    }
                    Err(e) => return Err(transient(e)),
                };
                emit(&p, saga, &next).await
            }
        })
        .event("PaymentFailed", release.clone())
        .event("ShippingFailed", release)
        .spawn()
        .await?)
}

async fn payment(
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
    publisher: &EventPublisher,
) -> Result<Participant, AppError> {
    let (s1, p1) = (Arc::clone(services), publisher.clone());
    let (s2, p2) = (Arc::clone(services), publisher.clone());
    let cancel = move |ctx: EventContext, ev: Event| {
        let (s, p) = (Arc::clone(&s2), p2.clone());
        async move {
            let saga = saga_of(&ctx)?;
            let order_id = ev.order_id().to_owned();
            let key = Key::event(saga, CHARGE, Direction::Compensate);
            match s.payment.cancel(&key, &order_id).await.map_err(transient)? {
                Cancelled::Refunded => emit(&p, saga, &Event::PaymentRefunded { order_id }).await,
                Cancelled::NothingCharged => {
                    emit(&p, saga, &Event::PaymentCancelled { order_id }).await
                }
                Cancelled::WasRefused => Ok(()),
            }
        }
    };
    Ok(Participant::builder("payment", Arc::clone(transport))
        .event("OrderCreated", move |ctx: EventContext, ev: Event| {
            let (s, p) = (Arc::clone(&s1), p1.clone());
            async move {
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
                let next = match s
                    .payment
                    .charge(&key, &order_id, &customer_id, total_amount)
                    .await
                {
                    Ok(payment_id) => Event::PaymentCompleted {
                        order_id,
                        payment_id,
                        amount: total_amount,
                    },
                    Err(ServiceError::Refused(reason)) => Event::PaymentFailed { order_id, reason },
                    Err(e) => return Err(transient(e)),
                };
                emit(&p, saga, &next).await
            }
        })
        .event("StockUnavailable", cancel.clone())
        .event("ShippingFailed", cancel)
        .spawn()
        .await?)
}

/// How often shipping calls a carrier that is down before it gives up on an order.
const CARRIER_ATTEMPTS: u32 = 2;

async fn shipping(
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
    publisher: &EventPublisher,
) -> Result<Participant, AppError> {
    let (s, p) = (Arc::clone(services), publisher.clone());
    let ready = move |stock: bool| {
        let (s, p) = (Arc::clone(&s), p.clone());
        move |ctx: EventContext, ev: Event| {
            let (s, p) = (Arc::clone(&s), p.clone());
            async move {
                let saga = saga_of(&ctx)?;
                let order_id = ev.order_id().to_owned();
                if !s
                    .shipping
                    .note_ready(&order_id, stock)
                    .await
                    .map_err(transient)?
                {
                    return Ok(());
                }
                let key = Key::event(saga, ARRANGE, Direction::Forward);
                let mut attempt = 1;
                let next = loop {
                    match s.shipping.arrange(&key, &order_id).await {
                        Ok(tracking_number) => {
                            break Event::ShippingArranged {
                                order_id,
                                tracking_number,
                            }
                        }
                        Err(ServiceError::Refused(reason)) => {
                            break Event::ShippingFailed { order_id, reason }
                        }
                        Err(ServiceError::Unavailable(reason)) if attempt >= CARRIER_ATTEMPTS => {
                            // Outcome unknown: record the decision so a redelivery cannot revive it.
                            s.shipping.give_up(&key, &reason).await.map_err(transient)?;
                            break Event::ShippingFailed { order_id, reason };
                        }
                        Err(ServiceError::Unavailable(_)) => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                };
                emit(&p, saga, &next).await
            }
        }
    };
    Ok(Participant::builder("shipping", Arc::clone(transport))
        .event("StockReserved", ready(true))
        .event("PaymentCompleted", ready(false))
        .spawn()
        .await?)
}

async fn order(
    services: &Arc<Services>,
    transport: &Arc<dyn Transport>,
    publisher: &EventPublisher,
) -> Result<Participant, AppError> {
    let (s, p) = (Arc::clone(services), publisher.clone());
    let hear = move |ctx: EventContext, ev: Event| {
        let (s, p) = (Arc::clone(&s), p.clone());
        async move {
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
            let key = Key::event(saga, HEARD_STEPS + step as u32, Direction::Forward);
            let decided = s
                .order
                .hear(&key, &order_id, kind, reason.as_deref(), update)
                .await
                .map_err(transient)?;
            match decided {
                Some(OrderStatus::Completed) => {
                    emit(&p, saga, &Event::OrderCompleted { order_id }).await
                }
                Some(_) => emit(&p, saga, &Event::OrderCancelled { order_id }).await,
                None => Ok(()),
            }
        }
    };
    let mut builder = Participant::builder("order", Arc::clone(transport));
    for topic in HEARD {
        builder = builder.event(topic, hear.clone());
    }
    Ok(builder.spawn().await?)
}
