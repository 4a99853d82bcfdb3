//! Shared helpers: a scripted step, a step context, and a `tracing` subscriber that keeps events.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::step::{Step, StepContext, StepError};
use crate::{async_trait, Direction, SagaId};

/// What a [`Scripted`] call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Ok,
    Transient,
    Permanent,
}

impl Outcome {
    pub(super) fn result(self) -> Result<(), StepError> {
        match self {
            Self::Ok => Ok(()),
            Self::Transient => Err(StepError::transient("carrier unavailable")),
            Self::Permanent => Err(StepError::permanent("address rejected")),
        }
    }
}

/// A step that plays a script of outcomes (then succeeds) and counts its calls.
#[derive(Debug, Clone, Default)]
pub(super) struct Scripted {
    script: Arc<Mutex<VecDeque<Outcome>>>,
    calls: Arc<AtomicUsize>,
}

impl Scripted {
    pub(super) fn new(script: impl IntoIterator<Item = Outcome>) -> Self {
        Self {
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            calls: Arc::default(),
        }
    }

    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(super) fn next(&self) -> Result<(), StepError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = self.script.lock().expect("script lock").pop_front();
        next.unwrap_or(Outcome::Ok).result()
    }
}

#[async_trait]
impl Step<u32> for Scripted {
    async fn execute(&self, _ctx: &StepContext, data: &mut u32) -> Result<(), StepError> {
        self.next()?;
        *data += 1;
        Ok(())
    }
}

pub(super) fn ctx() -> StepContext {
    StepContext::new(SagaId::new(), 0, Arc::from("ship"), Direction::Forward, 1)
}

/// Keeps the message and `to` field of every event; install with `tracing::subscriber::set_default`.
#[derive(Debug, Clone, Default)]
pub(super) struct Events(pub(super) Arc<Mutex<Vec<String>>>);

struct Visit<'a>(&'a mut String);

impl tracing::field::Visit for Visit<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(&mut Visit(&mut line));
        self.0.lock().expect("events lock").push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Events {
    pub(super) fn transitions(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("events lock")
            .iter()
            .filter(|line| line.contains("circuit breaker"))
            .filter_map(|line| {
                let from = line.split("from=").nth(1)?.split(' ').next()?;
                let to = line.split("to=").nth(1)?.split(' ').next()?;
                Some(format!("{from}->{to}"))
            })
            .collect()
    }
}
