//! [`TraceContext`]: one W3C `traceparent` (and optional `tracestate`), parsed strictly.

use std::fmt;
use std::sync::Arc;

use super::{SpanId, TraceId};
use crate::id::SagaId;

/// The length of a version-`00` `traceparent`: `00-` + 32 + `-` + 16 + `-` + 2.
pub const TRACEPARENT_LEN: usize = 55;

/// The longest `tracestate` carried along (the length W3C asks every vendor to propagate); a longer
/// one is dropped, the `traceparent` kept.
pub const MAX_TRACE_STATE_LEN: usize = 512;

/// The most list members a `tracestate` may have (W3C Trace Context).
const MAX_TRACE_STATE_MEMBERS: usize = 32;

/// A W3C Trace Context (level 1) as carried in a message's `traceparent` header: version `00`, a
/// [`TraceId`], the [`SpanId`] of the span that sent the message, and the trace flags; plus the
/// vendor-specific `tracestate`, passed through untouched.
///
/// Parsing is strict and never fails loudly: [`parse`](Self::parse) returns `None` for anything but
/// exactly `00-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>` with non-zero ids, and a
/// message with such a header is handled as if it had none (it is never dead-lettered for it).
///
/// ```
/// use saga::trace::TraceContext;
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let ctx = TraceContext::parse(header).expect("valid");
/// assert!(ctx.is_sampled());
/// assert_eq!(ctx.to_string(), header);
/// let child = ctx.child();
/// assert_eq!(child.trace_id(), ctx.trace_id());
/// assert_ne!(child.span_id(), ctx.span_id());
/// assert!(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    state: Option<Arc<str>>,
}

impl TraceContext {
    /// The `sampled` trace flag.
    pub const SAMPLED: u8 = 0x01;

    /// A context of these parts, without `tracestate`.
    #[must_use]
    pub const fn new(trace_id: TraceId, span_id: SpanId, flags: u8) -> Self {
        Self {
            trace_id,
            span_id,
            flags,
            state: None,
        }
    }

    /// A new trace: random trace and span ids, sampled.
    #[must_use]
    pub fn root() -> Self {
        Self::new(TraceId::random(), SpanId::random(), Self::SAMPLED)
    }

    /// A span of the saga's trace ([`TraceId::from_saga`]) with a random span id, sampled.
    #[must_use]
    pub fn for_saga(saga_id: SagaId) -> Self {
        Self::new(TraceId::from_saga(saga_id), SpanId::random(), Self::SAMPLED)
    }

    /// A child span: the same trace id, flags and `tracestate`, a new random span id.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            span_id: SpanId::random(),
            ..self.clone()
        }
    }

    /// A child of `parent` if there is one, else a new span of the saga's trace (if `saga_id` is given)
    /// or a new trace: how a handler continues the trace a message came with.
    pub(crate) fn child_or_new(parent: Option<&Self>, saga_id: Option<SagaId>) -> Self {
        match (parent, saga_id) {
            (Some(parent), _) => parent.child(),
            (None, Some(saga_id)) => Self::for_saga(saga_id),
            (None, None) => Self::root(),
        }
    }

    /// The trace this span belongs to.
    #[must_use]
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span's id: on a message, the id of the span that sent it (the receiver's parent).
    #[must_use]
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags byte.
    #[must_use]
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the `sampled` flag is set: the sender may have recorded its span.
    #[must_use]
    pub const fn is_sampled(&self) -> bool {
        self.flags & Self::SAMPLED != 0
    }

    /// The `tracestate`, if one came with the context.
    #[must_use]
    pub fn trace_state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The same context carrying `tracestate` `state`, if it is acceptable: at most
    /// [`MAX_TRACE_STATE_LEN`] bytes of printable ASCII in at most 32 non-blank comma-separated
    /// members. Anything else (or `None`) leaves the context without one.
    #[must_use]
    pub fn with_trace_state(mut self, state: Option<&str>) -> Self {
        self.state = state.filter(|s| valid_state(s)).map(Arc::from);
        self
    }

    /// Parses a `traceparent` header value. `None` unless it is exactly version `00`, 32 lowercase hex
    /// digits of a non-zero trace id, 16 of a non-zero span id and 2 of the flags, separated by `-`.
    /// Only the first [`TRACEPARENT_LEN`] bytes are ever looked at.
    #[must_use]
    pub fn parse(traceparent: &str) -> Option<Self> {
        if traceparent.len() != TRACEPARENT_LEN {
            return None;
        }
        let rest = traceparent.strip_prefix("00-")?;
        let (trace_id, rest) = rest.split_at_checked(32)?;
        let rest = rest.strip_prefix('-')?;
        let (span_id, rest) = rest.split_at_checked(16)?;
        let flags = rest.strip_prefix('-')?;
        let mut flag = [0u8; 1];
        super::ids::decode_hex(flags, &mut flag)?;
        Some(Self::new(
            TraceId::parse(trace_id)?,
            SpanId::parse(span_id)?,
            flag[0],
        ))
    }

    /// The `traceparent` header value, `00-<trace id>-<span id>-<flags>` (also its `Display`).
    #[must_use]
    pub fn traceparent(&self) -> String {
        self.to_string()
    }
}

/// Whether `state` is a `tracestate` worth passing on (see [`TraceContext::with_trace_state`]).
fn valid_state(state: &str) -> bool {
    state.len() <= MAX_TRACE_STATE_LEN
        && state.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !state.trim().is_empty()
        && state.split(',').count() <= MAX_TRACE_STATE_MEMBERS
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("TraceContext");
        d.field(&format_args!("{self}"));
        if let Some(state) = &self.state {
            d.field(state);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn only_exact_version_00_headers_parse() {
        let ctx = TraceContext::parse(VALID).expect("valid");
        assert_eq!(
            ctx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ctx.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(ctx.flags(), 1);
        let unsampled = TraceContext::parse(&VALID.replace("-01", "-00")).expect("flags 00");
        assert!(!unsampled.is_sampled());
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e47360-0f067aa0ba902b7-01",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn trace_state_is_kept_only_when_acceptable() {
        let ctx = TraceContext::parse(VALID).expect("valid");
        let kept = ctx
            .clone()
            .with_trace_state(Some("congo=t61rcWkgMzE,rojo=00f0"));
        assert_eq!(kept.trace_state(), Some("congo=t61rcWkgMzE,rojo=00f0"));
        let long = "a".repeat(MAX_TRACE_STATE_LEN + 1);
        let many = vec!["k=v"; MAX_TRACE_STATE_MEMBERS + 1].join(",");
        for bad in [long.as_str(), many.as_str(), "", "  ", "k=v\r\nx: y", "k=é"] {
            assert_eq!(ctx.clone().with_trace_state(Some(bad)).trace_state(), None);
        }
        assert_eq!(kept.child().trace_state(), kept.trace_state());
        assert_eq!(kept.with_trace_state(None).trace_state(), None);
    }
}
