//! An orchestrated 3-step saga whose steps are remote participants over the in-process transport.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use saga::participant::{Participant, ReplyRouter, RouterConfig};
use saga::transport::{InProcTransport, Transport};
use saga::{Executor, FailureKind, InMemoryLog, SagaDefinition, SagaState, StepError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Order {
    book: String,
    qty: u32,
    customer: String,
    reservation: Option<String>,
    payment: Option<String>,
    shipment: Option<String>,
}

#[derive(Default)]
struct World {
    stock: HashMap<String, u32>,
    wallets: HashMap<String, u64>,
    shipments: u32,
}

async fn services(
    t: &Arc<dyn Transport>,
    world: &Arc<Mutex<World>>,
    carrier_up: bool,
) -> Vec<Participant> {
    let w = Arc::clone(world);
    let w2 = Arc::clone(world);
    let inventory = Participant::builder("inventory", Arc::clone(t))
        .command("reserve_stock", move |ctx, (book, qty): (String, u32)| {
            let w = Arc::clone(&w);
            async move {
                let mut w = w.lock();
                let stock = w.stock.entry(book).or_default();
                if *stock < qty {
                    return Err(StepError::permanent("out of stock"));
                }
                *stock -= qty;
                Ok(format!("res-{}", ctx.saga_id()))
            }
        })
        .command("release_stock", move |_ctx, (book, qty): (String, u32)| {
            let w = Arc::clone(&w2);
            async move {
                *w.lock().stock.entry(book).or_default() += qty;
                Ok::<_, StepError>(())
            }
        })
        .spawn()
        .await
        .expect("inventory");
    let w = Arc::clone(world);
    let w2 = Arc::clone(world);
    let payment = Participant::builder("payment", Arc::clone(t))
        .command(
            "process_payment",
            move |_ctx, (customer, cents): (String, u64)| {
                let w = Arc::clone(&w);
                async move {
                    let mut w = w.lock();
                    let wallet = w.wallets.entry(customer).or_default();
                    if *wallet < cents {
                        return Err(StepError::permanent("insufficient funds"));
                    }
                    *wallet -= cents;
                    Ok("pay-1".to_owned())
                }
            },
        )
        .command(
            "refund_payment",
            move |_ctx, (customer, cents): (String, u64)| {
                let w = Arc::clone(&w2);
                async move {
                    *w.lock().wallets.entry(customer).or_default() += cents;
                    Ok::<_, StepError>(())
                }
            },
        )
        .spawn()
        .await
        .expect("payment");
    let w = Arc::clone(world);
    let shipping = Participant::builder("shipping", Arc::clone(t))
        .command("arrange_shipping", move |_ctx, _book: String| {
            let w = Arc::clone(&w);
            async move {
                if !carrier_up {
                    return Err(StepError::permanent("carrier refused the parcel"));
                }
                w.lock().shipments += 1;
                Ok("ship-1".to_owned())
            }
        })
        .spawn()
        .await
        .expect("shipping");
    vec![inventory, payment, shipping]
}

fn definition(router: &ReplyRouter) -> SagaDefinition<Order> {
    const PRICE: u64 = 3500;
    SagaDefinition::<Order>::builder("order", 1)
        .compensatable(
            "reserve_stock",
            router.step(
                "inventory",
                "reserve_stock",
                |o: &Order| (o.book.clone(), o.qty),
                |o: &mut Order, r: String| o.reservation = Some(r),
            ),
            router.compensation("inventory", "release_stock", |o: &Order| {
                (o.book.clone(), o.qty)
            }),
        )
        .compensatable(
            "process_payment",
            router.step(
                "payment",
                "process_payment",
                |o: &Order| (o.customer.clone(), PRICE * u64::from(o.qty)),
                |o: &mut Order, r: String| o.payment = Some(r),
            ),
            router.compensation("payment", "refund_payment", |o: &Order| {
                (o.customer.clone(), PRICE * u64::from(o.qty))
            }),
        )
        .pivot(
            "arrange_shipping",
            router.step(
                "shipping",
                "arrange_shipping",
                |o: &Order| o.book.clone(),
                |o: &mut Order, r: String| o.shipment = Some(r),
            ),
        )
        .build()
        .expect("valid definition")
}

async fn run(carrier_up: bool) -> (saga::SagaOutcome<Order>, Arc<Mutex<World>>) {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let world = Arc::new(Mutex::new(World::default()));
    world.lock().stock.insert("book-123".into(), 5);
    world.lock().wallets.insert("customer-001".into(), 10_000);
    let participants = services(&t, &world, carrier_up).await;
    let router = ReplyRouter::start(Arc::clone(&t), RouterConfig::default())
        .await
        .expect("router");
    let executor = Executor::new(definition(&router), Arc::new(InMemoryLog::new()));
    let order = Order {
        book: "book-123".into(),
        qty: 2,
        customer: "customer-001".into(),
        ..Order::default()
    };
    let outcome = executor.run(order).await.expect("saga runs");
    for p in participants {
        p.shutdown().await;
    }
    (outcome, world)
}

#[tokio::test(start_paused = true)]
async fn a_remote_saga_completes() {
    let (outcome, world) = run(true).await;
    assert_eq!(outcome.state, SagaState::Completed);
    assert!(outcome.data.reservation.is_some());
    assert_eq!(outcome.data.payment.as_deref(), Some("pay-1"));
    assert_eq!(outcome.data.shipment.as_deref(), Some("ship-1"));
    let w = world.lock();
    assert_eq!(w.stock["book-123"], 3);
    assert_eq!(w.wallets["customer-001"], 3_000);
    assert_eq!(w.shipments, 1);
}

#[tokio::test(start_paused = true)]
async fn a_remote_saga_compensates_when_a_participant_says_no() {
    let (outcome, world) = run(false).await;
    assert_eq!(outcome.state, SagaState::Compensated);
    let failure = outcome.failure.expect("a failure is reported");
    assert_eq!((failure.step, failure.kind), (2, FailureKind::Refused));
    assert!(failure.message.contains("carrier refused"), "{failure}");
    let w = world.lock();
    assert_eq!(w.stock["book-123"], 5, "stock released");
    assert_eq!(w.wallets["customer-001"], 10_000, "payment refunded");
    assert_eq!(w.shipments, 0);
}
