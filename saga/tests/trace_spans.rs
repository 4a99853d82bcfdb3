//! One trace follows an orchestrated saga into each participant's handler and on into a choreographed
//! event's handler, through the `traceparent` of every command, reply and event.
//!
//! Alone in its own test binary, with a single test, for the reason `spans.rs` gives: `tracing` caches
//! callsite interest per process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{EventPublisher, Participant, ReplyRouter, RouterConfig};
use saga::trace::{TraceContext, TraceId};
use saga::transport::{InProcTransport, Message, Transport, TransportExt as _};
use saga::{Executor, InMemoryLog, SagaDefinition, StepError};
use tokio::sync::mpsc;

mod spans {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A created span: its name and its fields, formatted.
    pub type Seen = (String, HashMap<String, String>);

    /// Records every span created, with its fields.
    #[derive(Default)]
    pub struct Spans {
        next: AtomicU64,
        pub seen: Mutex<Vec<Seen>>,
    }

    /// The subscriber handed to `tracing`, sharing [`Spans`] with the test.
    pub struct Recorder(pub Arc<Spans>);

    struct Fields<'a>(&'a mut HashMap<String, String>);
    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut fields = HashMap::new();
            span.record(&mut Fields(&mut fields));
            let name = span.metadata().name().to_owned();
            self.0.seen.lock().push((name, fields));
            Id::from_u64(self.0.next.fetch_add(1, Ordering::Relaxed) + 1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

/// What a handler saw: its own context and the one its message came with.
type Seen = (String, TraceContext, Option<TraceContext>);

/// Runs `reserve` (inventory, which publishes `stock.reserved`) then `charge` (payment, which also
/// handles `stock.reserved`); returns the saga id, what the handlers saw and the replies sent.
async fn run_saga() -> (saga::SagaId, Vec<Seen>, Vec<Message>) {
    let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<Seen>();
    let events = EventPublisher::new(Arc::clone(&transport));
    let tx = seen_tx.clone();
    let inventory = Participant::builder("inventory", Arc::clone(&transport))
        .command("reserve", move |ctx, qty: u32| {
            let (tx, events) = (tx.clone(), events.clone());
            async move {
                let _ = tx.send((
                    "reserve".into(),
                    ctx.trace().clone(),
                    ctx.parent_trace().cloned(),
                ));
                // Published from inside the handler: continues the handler's span.
                events
                    .publish("stock.reserved", Some(ctx.saga_id()), &qty)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                Ok::<_, StepError>(qty)
            }
        })
        .command("release", |_ctx, _qty: u32| async {
            Ok::<_, StepError>(())
        })
        .spawn()
        .await
        .expect("inventory");
    let (tx, event_tx) = (seen_tx.clone(), seen_tx);
    let payment = Participant::builder("payment", Arc::clone(&transport))
        .command("charge", move |ctx, _qty: u32| {
            let _ = tx.send((
                "charge".into(),
                ctx.trace().clone(),
                ctx.parent_trace().cloned(),
            ));
            async { Ok::<_, StepError>(()) }
        })
        .event("stock.reserved", move |ctx, _qty: u32| {
            let _ = event_tx.send((
                "event".into(),
                ctx.trace().clone(),
                ctx.parent_trace().cloned(),
            ));
            async { Ok::<_, StepError>(()) }
        })
        .spawn()
        .await
        .expect("payment");
    let config = RouterConfig::default().with_owner_id("trace-test");
    let router = ReplyRouter::start(Arc::clone(&transport), config)
        .await
        .expect("router");
    let mut spy = transport
        .subscribe_durable(router.reply_topic(), "spy")
        .await
        .expect("spy");
    let def = SagaDefinition::<u32>::builder("traced", 1)
        .compensatable(
            "reserve",
            router.step(
                "inventory",
                "reserve",
                |q: &u32| *q,
                |_: &mut u32, _: u32| {},
            ),
            router.compensation("inventory", "release", |q: &u32| *q),
        )
        .pivot(
            "charge",
            router.step("payment", "charge", |q: &u32| *q, |_: &mut u32, (): ()| {}),
        )
        .build()
        .expect("definition");
    let outcome = Executor::new(def, Arc::new(InMemoryLog::new()))
        .run(3)
        .await
        .expect("run");
    assert!(outcome.is_completed(), "{:?}", outcome.state);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(5), seen_rx.recv()).await;
        seen.push(next.expect("a handler ran").expect("open"));
    }
    let mut replies = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(5), spy.next())
            .await
            .expect("a reply")
            .expect("open")
            .expect("delivery");
        replies.push(d.message().clone());
        d.ack().await.expect("ack");
    }
    inventory.shutdown().await;
    payment.shutdown().await;
    (outcome.id, seen, replies)
}

/// The spans named `name`, each as its fields.
fn named(seen: &[spans::Seen], name: &str) -> Vec<HashMap<String, String>> {
    seen.iter()
        .filter(|(n, _)| n == name)
        .map(|(_, f)| f.clone())
        .collect()
}

#[test]
fn one_trace_follows_the_saga_into_every_handler() {
    let spans = Arc::new(spans::Spans::default());
    let dispatch = tracing::Dispatch::new(spans::Recorder(Arc::clone(&spans)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (saga_id, handlers, replies) =
        tracing::dispatcher::with_default(&dispatch, || rt.block_on(run_saga()));
    let seen = spans.seen.lock();
    let trace_id = TraceId::from_saga(saga_id).to_string();
    assert_eq!(trace_id, saga_id.to_string().replace('-', ""));

    let saga = named(&seen, "saga");
    assert_eq!(saga.len(), 1, "{seen:?}");
    assert_eq!(saga[0]["trace_id"], trace_id);
    let steps = named(&seen, "saga.step");
    assert_eq!(steps.len(), 2, "{steps:?}");
    let step_span: HashMap<&str, &str> = steps
        .iter()
        .map(|s| (s["step"].as_str(), s["span_id"].as_str()))
        .collect();
    for step in &steps {
        assert_eq!(step["trace_id"], trace_id, "{step:?}");
        assert_eq!(step["parent_span_id"], saga[0]["span_id"], "{step:?}");
    }

    // Each command handler's span is a child of the step attempt that sent the command.
    let commands = named(&seen, "saga.participant.command");
    assert_eq!(commands.len(), 2, "{commands:?}");
    let mut handler_span = HashMap::new();
    for span in &commands {
        let command = span["command"].as_str();
        assert_eq!(span["trace_id"], trace_id, "{span:?}");
        assert_eq!(span["parent_span_id"], step_span[command], "{span:?}");
        handler_span.insert(command.to_owned(), span["span_id"].clone());
    }
    // The event handler's span is a child of the reserve handler that published the event.
    let events = named(&seen, "saga.participant.event");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["trace_id"], trace_id);
    assert_eq!(events[0]["parent_span_id"], handler_span["reserve"]);
    handler_span.insert("event".into(), events[0]["span_id"].clone());

    // What the handlers were told matches their spans.
    for (who, own, parent) in &handlers {
        assert_eq!(own.trace_id().to_string(), trace_id, "{who}");
        assert_eq!(own.span_id().to_string(), handler_span[who], "{who}");
        let parent = parent.as_ref().expect("a traceparent came along");
        let expected = match who.as_str() {
            "event" => &handler_span["reserve"],
            step => &step_span[step].to_owned(),
        };
        assert_eq!(&parent.span_id().to_string(), expected, "{who}");
    }
    // Each reply carries the span id of the handler that sent it.
    for reply in &replies {
        let name = reply.headers.name.as_deref().expect("named");
        let trace = reply.headers.trace.as_ref().expect("a traceparent");
        assert_eq!(trace.trace_id().to_string(), trace_id);
        assert_eq!(trace.span_id().to_string(), handler_span[name], "{name}");
    }
}
