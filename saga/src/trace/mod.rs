//! W3C Trace Context across processes: one trace follows a saga from the executor into every
//! participant's handler, over any transport.
//!
//! # What travels
//!
//! Every command, reply and event carries a `traceparent` header ([`TRACEPARENT`]; a typed
//! [`Headers::trace`](crate::transport::Headers::trace) in process, a string header on brokers through
//! [`Headers::to_pairs`](crate::transport::Headers::to_pairs)), and its `tracestate` if one came
//! along ([`TRACESTATE`], at most [`MAX_TRACE_STATE_LEN`] bytes).
//!
//! - The **executor** gives each saga the trace id [`TraceId::from_saga`] (the saga id's 16 bytes: the
//!   same in every process, after recovery too) and each drive of it a span id; each step attempt gets
//!   a child span id ([`StepContext::trace`](crate::StepContext::trace)). The `saga` span records
//!   `trace_id` and `span_id`, each `saga.step` span `trace_id`, `span_id` and `parent_span_id`.
//! - [`RemoteStep`](crate::RemoteStep) / [`RemoteCompensation`](crate::RemoteCompensation) put the
//!   attempt's context on the command, so the command's `traceparent` names the attempt's span.
//! - The **participant** runtime opens `saga.participant.command` / `saga.participant.event` spans with
//!   `trace_id`, `parent_span_id` (from the header, if it had a valid one) and its own `span_id`, exposes
//!   them on [`CommandContext`](crate::participant::CommandContext) /
//!   [`EventContext`](crate::participant::EventContext), and puts its own span id on the reply and on
//!   every event published while the handler runs.
//! - An [`EventPublisher`](crate::participant::EventPublisher) continues the context it was given
//!   ([`with_trace`](crate::participant::EventPublisher::with_trace)), else the [`current`] one, else
//!   starts a span of the saga's trace (or a new trace for an event outside any saga).
//!
//! A missing or invalid header is never an error: the message is handled as one without a trace
//! context, and the handler starts from the saga's trace id if the message names a saga.
//!
//! # OpenTelemetry
//!
//! The format is small and the parsing must be ours (strict, bounded, never a reason to dead-letter),
//! so [`TraceContext`] is implemented here and the default build depends on no OpenTelemetry crate.
//! The `opentelemetry` cargo feature adds conversions to and from the `opentelemetry` API crate's
//! `SpanContext` (the API crate only, not the SDK), and makes [`current`] fall back to
//! `opentelemetry::Context::current()` outside a saga step or handler, so events published from a
//! request handler continue its trace. A participant handler that uses `tracing-opentelemetry` can
//! parent its OpenTelemetry span on the message's context with
//! `Span::current().set_parent(Context::new().with_remote_span_context(ctx.trace().into()))`.
//!
//! The executor does not adopt the caller's OpenTelemetry trace: a saga's trace id is always derived
//! from its id, so the executor that recovers it after a crash, or another executor sharing the log,
//! continues the same trace without the log having to store one. The caller's own span is still the
//! `tracing` parent of the `saga` span in process.

mod context;
mod ids;
#[cfg(feature = "opentelemetry")]
mod otel;
mod wire;

use std::future::Future;

pub use context::{TraceContext, MAX_TRACE_STATE_LEN, TRACEPARENT_LEN};
pub use ids::{SpanId, TraceId};
pub(crate) use wire::{is_trace_header, TracePairs};
pub use wire::{TRACEPARENT, TRACESTATE};

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// The trace context of the code running now: the step attempt the executor is running, or the
/// participant handler the runtime is running (set around the step's or handler's future by
/// [`scope`]). With the `opentelemetry` feature, otherwise the current OpenTelemetry span's context
/// if it is valid. `None` elsewhere.
#[must_use]
pub fn current() -> Option<TraceContext> {
    let ours = CURRENT.try_with(Clone::clone).ok();
    #[cfg(feature = "opentelemetry")]
    let ours = ours.or_else(TraceContext::from_otel_current);
    ours
}

/// Runs `fut` with `ctx` as the [`current`] trace context (a tokio task-local, set on every poll of
/// `fut`; tasks spawned from it do not inherit it).
pub fn scope<F: Future>(ctx: TraceContext, fut: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(ctx, fut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_current_context_is_the_innermost_scope() {
        assert_eq!(CURRENT.try_with(Clone::clone).ok(), None);
        let outer = TraceContext::root();
        let inner = outer.child();
        let seen = scope(outer.clone(), async {
            let before = current();
            let nested = scope(inner.clone(), async { current() }).await;
            (before, nested, current())
        })
        .await;
        assert_eq!(seen, (Some(outer.clone()), Some(inner), Some(outer)));
    }
}
