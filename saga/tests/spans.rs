//! Every saga and every step runs in a `tracing` span carrying the saga id.
//!
//! Alone in its own test binary on purpose: `tracing` caches each callsite's interest once per process,
//! computed against the default dispatcher of the thread that first reaches it. A test running in
//! parallel with no subscriber can reach the executor's span callsites first and cache them as "never",
//! and a scoped `with_default` here would then see no spans at all.

use std::sync::Arc;

use saga::testing::Journal;
use saga::{Executor, InMemoryLog, SagaDefinition};

mod spans {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use parking_lot::Mutex;
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Records the names and saga ids of the spans created.
    #[derive(Default)]
    pub struct Spans {
        next: AtomicU64,
        pub seen: Mutex<Vec<(String, String)>>,
    }

    /// The subscriber handed to `tracing`, sharing [`Spans`] with the test.
    pub struct Recorder(pub Arc<Spans>);

    struct SagaIdField<'a>(&'a mut String);
    impl tracing::field::Visit for SagaIdField<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "saga_id" {
                *self.0 = format!("{value:?}");
            }
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut id = String::new();
            span.record(&mut SagaIdField(&mut id));
            self.0
                .seen
                .lock()
                .push((span.metadata().name().to_owned(), id));
            Id::from_u64(self.0.next.fetch_add(1, Ordering::Relaxed) + 1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[test]
fn every_saga_and_step_runs_in_a_span_carrying_the_saga_id() {
    let spans = Arc::new(spans::Spans::default());
    let dispatch = tracing::Dispatch::new(spans::Recorder(spans.clone()));
    let journal = Journal::new();
    let def = SagaDefinition::<u32>::builder("spans", 1)
        .compensatable("a", journal.step(), journal.undo())
        .compensatable("b", journal.step(), journal.undo())
        .build()
        .expect("valid");
    let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let outcome =
        tracing::dispatcher::with_default(&dispatch, || rt.block_on(exec.run(0))).expect("run");
    let id = outcome.id.to_string();
    let seen = spans.seen.lock();
    assert_eq!(
        seen.iter().filter(|(n, i)| n == "saga" && *i == id).count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|(n, i)| n == "saga.step" && *i == id)
            .count(),
        2,
        "{seen:?}"
    );
}
