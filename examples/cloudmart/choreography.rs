//! Choreography: no central driver. Services react to each other's events over the transport (their
//! reactions live in `services/<name>/handlers.rs`); each effect is deduplicated through the service's
//! inbox, and every event id is derived from the order's saga id and the
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

use saga::participant::{EventPublisher, Participant};
use saga::transport::Transport;
use saga::{Direction, SagaId};

use crate::cloudmart::db::Key;
use crate::cloudmart::error::AppError;
use crate::cloudmart::events::{emit, Event, Reactor, CREATE};
use crate::cloudmart::history::{self, OrderReport};
use crate::cloudmart::model::OrderRequest;
use crate::cloudmart::services::order::Order;
use crate::cloudmart::services::{inventory, order, payment, shipping};
use crate::cloudmart::services::{OrderStatus, Service, Services};

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
        let reactor = Reactor {
            services: Arc::clone(services),
            publisher: publisher.clone(),
        };
        let mut participants = Vec::new();
        for service in which {
            let builder = Participant::builder(service.as_str(), Arc::clone(&transport))
                .with_state(reactor.clone());
            let builder = match service {
                Service::Order => order::handlers::reactions(builder),
                Service::Inventory => inventory::handlers::reactions(builder),
                Service::Payment => payment::handlers::reactions(builder),
                Service::Shipping => shipping::handlers::reactions(builder),
            };
            participants.push(builder.spawn().await?);
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
