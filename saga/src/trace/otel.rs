//! Conversions to and from the `opentelemetry` API crate (cargo feature `opentelemetry`).

use opentelemetry::trace::{
    SpanContext, SpanId as OtelSpanId, TraceContextExt, TraceFlags, TraceId as OtelTraceId,
    TraceState,
};

use super::{SpanId, TraceContext, TraceId};

#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl TraceContext {
    /// The context of an OpenTelemetry span, `None` if it is invalid (a zero trace or span id). The
    /// trace state comes along if it is one [`with_trace_state`](Self::with_trace_state) accepts.
    #[must_use]
    pub fn from_span_context(span: &SpanContext) -> Option<Self> {
        let ctx = Self::new(
            TraceId::from_bytes(span.trace_id().to_bytes())?,
            SpanId::from_bytes(span.span_id().to_bytes())?,
            span.trace_flags().to_u8(),
        );
        let state = span.trace_state().header();
        Some(ctx.with_trace_state(Some(state.as_str())))
    }

    /// The context of the current OpenTelemetry span (`opentelemetry::Context::current()`), if any.
    #[must_use]
    pub fn from_otel_current() -> Option<Self> {
        opentelemetry::Context::map_current(|cx| {
            cx.has_active_span()
                .then(|| Self::from_span_context(cx.span().span_context()))
                .flatten()
        })
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl From<&TraceContext> for SpanContext {
    /// A remote span context (it came from another process), for
    /// `Context::new().with_remote_span_context(..)`. A trace state OpenTelemetry does not accept is
    /// left out.
    fn from(ctx: &TraceContext) -> Self {
        let state = ctx
            .trace_state()
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        Self::new(
            OtelTraceId::from_bytes(ctx.trace_id().to_bytes()),
            OtelSpanId::from_bytes(ctx.span_id().to_bytes()),
            TraceFlags::new(ctx.flags()),
            true,
            state,
        )
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl From<TraceContext> for SpanContext {
    fn from(ctx: TraceContext) -> Self {
        Self::from(&ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_round_trip_through_opentelemetry() {
        let ctx = TraceContext::root().with_trace_state(Some("congo=t61rcWkgMzE"));
        let span = SpanContext::from(&ctx);
        assert!(span.is_valid() && span.is_remote() && span.is_sampled());
        assert_eq!(span.trace_id().to_string(), ctx.trace_id().to_string());
        assert_eq!(TraceContext::from_span_context(&span), Some(ctx));
        assert_eq!(TraceContext::from_span_context(&SpanContext::NONE), None);
        assert_eq!(TraceContext::from_otel_current(), None);
        let cx = opentelemetry::Context::new().with_remote_span_context(span.clone());
        let _guard = cx.attach();
        assert_eq!(
            super::super::current().map(|c| c.span_id()),
            TraceContext::from_span_context(&span).map(|c| c.span_id())
        );
    }
}
