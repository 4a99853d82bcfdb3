//! Every value the participant runtime and the transport log about a message is bounded.
//!
//! Its own test binary: tracing caches per process whether a callsite is interesting, so a test running
//! in parallel without a subscriber could hide this one's events.

mod common;

use saga::transport::TransportExt as _;
use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;
use saga::participant::EventPublisher;
use saga::transport::{dead_letter_topic, InProcTransport, Transport};

use common::messages::{bad_then_good, bank, command_to, refusing_shipping, router};

/// Records the longest value of every field of every event.
#[derive(Clone, Default)]
struct Longest(Arc<Mutex<Vec<(String, usize)>>>);

struct Visit<'a>(&'a mut Vec<(String, usize)>);

impl tracing::field::Visit for Visit<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.len()));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0.push((field.name().to_owned(), text.len()));
    }
}

impl tracing::Subscriber for Longest {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut Visit(&mut self.0.lock()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn logged_values_derived_from_messages_are_bounded() {
    let fields = Longest::default();
    let _guard = tracing::subscriber::set_default(fields.clone());
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let _bank = bank(&t).await;
    let router = router(&t).await;
    let mut dead_events = t
        .subscribe_durable(&dead_letter_topic("orders"), "ops")
        .await
        .expect("subscribe");
    let _shipping = refusing_shipping(&t).await;

    let long = "x".repeat(10 * 1024);
    let replies = router.reply_topic();
    let bad = [
        command_to(replies, &long, "1"),
        command_to(replies, "debit", &format!("\"{long}\"")),
    ];
    bad_then_good(&t, &router, bad).await;
    EventPublisher::new(Arc::clone(&t))
        .publish("orders", None, &long)
        .await
        .expect("publish");
    dead_events
        .next()
        .await
        .expect("open")
        .expect("dead letter");

    let fields = fields.0.lock();
    assert!(
        fields.iter().any(|(name, _)| name == "reason"),
        "the dead letters were logged: {fields:?}"
    );
    let too_long: Vec<_> = fields.iter().filter(|(_, len)| *len > 256).collect();
    assert!(too_long.is_empty(), "fields over 256 bytes: {too_long:?}");
}
