//! The orchestrated order saga's definition: five remote steps over the reply router, their
//! compensations and retries, and the orchestrator's own middleware stack on the payment step.

use std::time::Duration;

use saga::middleware::{BulkheadConfig, BulkheadLayer, MiddlewareBuilder, TimeoutLayer};
use saga::participant::ReplyRouter;
use saga::{RetryPolicy, SagaDefinition, StepSpec};

use crate::cloudmart::error::AppError;
use crate::cloudmart::model::OrderSaga;

/// The saga definition's name.
pub const SAGA_NAME: &str = "cloudmart-order";

/// The order saga: `create_order → reserve_stock → process_payment → arrange_shipping`, each undone by
/// its compensation, then `approve_order` (retriable: once shipped, the order only goes forward).
///
/// # Errors
/// Never in practice: the step order is fixed and valid.
pub fn definition(router: &ReplyRouter) -> Result<SagaDefinition<OrderSaga>, AppError> {
    let quick = RetryPolicy::default()
        .with_initial_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(50));
    let data = |d: &OrderSaga| d.clone();
    // The orchestrator's own guard on its calls to the payment service, stacked with
    // `MiddlewareBuilder` (outermost first): at most 32 payment commands in flight from this process
    // (others wait up to 5 s, then fail transiently and are retried), each attempt bounded to 15 s (a
    // backstop above the router's 10 s reply timeout). The service-side breaker (carrier) and bulkhead
    // (gateway) guard calls inside the handlers, where one layer each is all there is.
    let payment_guard = MiddlewareBuilder::new()
        .layer(BulkheadLayer::new(
            BulkheadConfig::default()
                .with_name("payment-commands")
                .with_max_concurrent(32)
                .with_max_waiting(1_000)
                .with_wait_timeout(Duration::from_secs(5)),
        ))
        .layer(TimeoutLayer::new(Duration::from_secs(15)));
    Ok(SagaDefinition::<OrderSaga>::builder(SAGA_NAME, 1)
        .step(
            StepSpec::compensatable(
                "create_order",
                router.step(
                    "order",
                    "create_order",
                    data,
                    |_: &mut OrderSaga, _: String| {},
                ),
                router.compensation("order", "cancel_order", data),
            )
            .with_retry(quick),
        )
        .step(
            StepSpec::compensatable(
                "reserve_stock",
                router.step(
                    "inventory",
                    "reserve_stock",
                    data,
                    |_: &mut OrderSaga, _: String| {},
                ),
                router.compensation("inventory", "release_stock", data),
            )
            .with_retry(quick),
        )
        .step(
            StepSpec::compensatable(
                "process_payment",
                payment_guard.service(router.step(
                    "payment",
                    "process_payment",
                    data,
                    |d: &mut OrderSaga, id: String| d.payment_id = Some(id),
                )),
                router.compensation("payment", "refund_payment", data),
            )
            .with_retry(quick),
        )
        .step(
            // The carrier is retried once; an open breaker is a refusal (fail fast).
            StepSpec::compensatable(
                "arrange_shipping",
                router.step(
                    "shipping",
                    "arrange_shipping",
                    data,
                    |d: &mut OrderSaga, t: String| d.tracking_number = Some(t),
                ),
                router.compensation("shipping", "cancel_shipping", data),
            )
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(2)
                    .with_initial_delay(Duration::from_millis(1))
                    .with_max_delay(Duration::from_millis(5)),
            ),
        )
        .step(
            StepSpec::retriable(
                "approve_order",
                router.step(
                    "order",
                    "approve_order",
                    data,
                    |_: &mut OrderSaga, _: ()| {},
                ),
            )
            .with_retry(RetryPolicy::forever().with_initial_delay(Duration::from_millis(5))),
        )
        .build()?)
}
