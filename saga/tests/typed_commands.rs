//! Remote steps typed end to end: commands declared once (`Command`), used by the orchestrator's
//! remote steps and the participant's handlers, over the in-process transport.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use saga::participant::{Command, Participant, ReplyRouter, RouterConfig};
use saga::testing::Journal;
use saga::transport::{InProcTransport, Transport};
use saga::{Executor, InMemoryLog, SagaDefinition, SagaState, StepError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reserve {
    book: String,
    qty: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reservation {
    id: String,
    left: u32,
}

/// Reserves copies of a book; replies with the reservation.
struct ReserveStock;
impl Command for ReserveStock {
    const NAME: &'static str = "reserve_stock";
    type Request = Reserve;
    type Reply = Reservation;
}

/// Gives back the copies of a reservation.
struct ReleaseStock;
impl Command for ReleaseStock {
    const NAME: &'static str = "release_stock";
    type Request = String;
    type Reply = ();
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Order {
    book: String,
    qty: u32,
    reservation: Option<Reservation>,
}

type Stock = Arc<Mutex<HashMap<String, u32>>>;

/// The inventory service: typed handlers only.
async fn inventory(transport: &Arc<dyn Transport>, stock: &Stock) -> Participant {
    let (reserve, release) = (Arc::clone(stock), Arc::clone(stock));
    let held: Arc<Mutex<HashMap<String, (String, u32)>>> = Arc::default();
    let held2 = Arc::clone(&held);
    Participant::builder("inventory", Arc::clone(transport))
        .handle(ReserveStock, move |ctx, req| {
            let (stock, held) = (Arc::clone(&reserve), Arc::clone(&held));
            async move {
                let mut stock = stock.lock();
                let left = stock.entry(req.book.clone()).or_default();
                if *left < req.qty {
                    return Err(StepError::permanent("out of stock"));
                }
                *left -= req.qty;
                let id = format!("res-{}", ctx.saga_id());
                held.lock().insert(id.clone(), (req.book, req.qty));
                Ok(Reservation { id, left: *left })
            }
        })
        .handle(ReleaseStock, move |_ctx, id| {
            let (stock, held) = (Arc::clone(&release), Arc::clone(&held2));
            async move {
                // Nothing to undo is fine: the reservation may never have been made.
                if let Some((book, qty)) = held.lock().remove(&id) {
                    *stock.lock().entry(book).or_default() += qty;
                }
                Ok(())
            }
        })
        .spawn()
        .await
        .expect("inventory")
}

/// The orchestrator's side of `ReserveStock`.
fn reserve(router: &ReplyRouter) -> impl saga::Step<Order> {
    router.remote_step(
        "inventory",
        ReserveStock,
        |o: &Order| Reserve {
            book: o.book.clone(),
            qty: o.qty,
        },
        |o: &mut Order, reservation| o.reservation = Some(reservation),
    )
}

fn order_saga(router: &ReplyRouter, journal: &Journal, pay: bool) -> SagaDefinition<Order> {
    let payment = if pay {
        journal.step()
    } else {
        journal.step().refuse("card declined")
    };
    SagaDefinition::builder("typed-order", 1)
        .compensatable(
            "reserve_stock",
            reserve(router),
            router.remote_compensation("inventory", ReleaseStock, |o: &Order| {
                o.reservation
                    .as_ref()
                    .map(|r| r.id.clone())
                    .unwrap_or_default()
            }),
        )
        .pivot("charge", payment)
        .build()
        .expect("valid")
}

fn order(qty: u32) -> Order {
    Order {
        book: "book-123".into(),
        qty,
        reservation: None,
    }
}

#[tokio::test]
async fn typed_commands_carry_requests_and_replies_both_ways_and_compensate() {
    let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let stock: Stock = Arc::new(Mutex::new(HashMap::from([("book-123".to_owned(), 5)])));
    let service = inventory(&transport, &stock).await;
    let router = ReplyRouter::start(Arc::clone(&transport), RouterConfig::default())
        .await
        .expect("router");
    let log = Arc::new(InMemoryLog::new());
    let journal = Journal::new();

    let paid = Executor::new(order_saga(&router, &journal, true), log.clone())
        .run(order(2))
        .await
        .expect("run");
    assert_eq!(paid.state, SagaState::Completed);
    let reservation = paid.data.reservation.expect("the reply reached the data");
    assert_eq!(
        reservation,
        Reservation {
            id: format!("res-{}", paid.id),
            left: 3
        }
    );

    let declined = Executor::new(order_saga(&router, &journal, false), log)
        .run(order(3))
        .await
        .expect("run");
    assert_eq!(declined.state, SagaState::Compensated);
    assert_eq!(
        declined.data.reservation.map(|r| r.left),
        Some(0),
        "the compensation saw the reservation"
    );
    assert_eq!(
        stock.lock()["book-123"],
        3,
        "the release command gave the declined order's copies back"
    );
    assert_eq!(journal.summary(), ["charge", "charge"]);
    assert_eq!(service.stats().executed, 3, "two reservations, one release");
    service.shutdown().await;
}

#[tokio::test]
async fn a_typed_step_talks_to_a_handler_registered_by_name() {
    let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let legacy = Participant::builder("inventory", Arc::clone(&transport))
        .command("reserve_stock", |_ctx, req: Reserve| async move {
            Ok::<_, StepError>(Reservation {
                id: "legacy".into(),
                left: 10 - req.qty,
            })
        })
        .spawn()
        .await
        .expect("legacy inventory");
    let router = ReplyRouter::start(Arc::clone(&transport), RouterConfig::default())
        .await
        .expect("router");
    let def = SagaDefinition::builder("mixed", 1)
        .pivot("reserve_stock", reserve(&router))
        .build()
        .expect("valid");
    let outcome = Executor::new(def, Arc::new(InMemoryLog::new()))
        .run(order(4))
        .await
        .expect("run");
    assert_eq!(
        outcome.data.reservation.map(|r| (r.id, r.left)),
        Some(("legacy".to_owned(), 6))
    );
    legacy.shutdown().await;
}
