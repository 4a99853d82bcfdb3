//! A `tracing` subscriber that keeps every field of every event and span as text, at every level,
//! so a test can assert what never reaches a log line (a password, say).

use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;

/// Everything logged, as text: one line per event, span or span record, `name=value` per field.
/// Install it as the global default in a test binary of its own (clients log from their I/O tasks
/// on other threads):
///
/// ```
/// let logs = saga::testing::CapturedLogs::default();
/// tracing::subscriber::with_default(logs.clone(), || tracing::warn!(url = "redis://***@h", "lost"));
/// assert!(logs.text().contains("url=\"redis://***@h\""));
/// logs.assert_free_of(&["hunter2"]);
/// ```
#[derive(Clone, Default, Debug)]
pub struct CapturedLogs(Arc<Mutex<Vec<String>>>);

impl CapturedLogs {
    /// Every line so far, joined by newlines.
    #[must_use]
    pub fn text(&self) -> String {
        self.0.lock().join("\n")
    }

    /// Lines captured so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether nothing was captured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// Panics, showing the logs, if any of `secrets` was logged.
    ///
    /// # Panics
    /// When a secret was logged.
    pub fn assert_free_of(&self, secrets: &[&str]) {
        let all = self.text();
        for secret in secrets {
            assert!(!all.contains(secret), "{secret:?} logged:\n{all}");
        }
    }

    fn push(&self, line: String) {
        self.0.lock().push(line);
    }
}

struct Visit<'a>(&'a mut String);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for CapturedLogs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = attrs.metadata().name().to_owned();
        attrs.record(&mut Visit(&mut line));
        self.push(line);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = String::new();
        values.record(&mut Visit(&mut line));
        self.push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().target().to_owned();
        event.record(&mut Visit(&mut line));
        self.push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
