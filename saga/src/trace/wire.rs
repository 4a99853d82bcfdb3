//! The string form of a [`TraceContext`] in message headers: `traceparent` and `tracestate`.

use std::borrow::Cow;

use super::context::TRACEPARENT_LEN;
use super::TraceContext;

/// The wire name of the W3C `traceparent` header (not `saga-` prefixed: it is the W3C name, read by
/// any instrumented consumer).
pub const TRACEPARENT: &str = "traceparent";

/// The wire name of the W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";

/// Whether `name` is one of the trace headers, in any letter case (HTTP and some brokers fold case).
pub(crate) fn is_trace_header(name: &str) -> bool {
    name.eq_ignore_ascii_case(TRACEPARENT) || name.eq_ignore_ascii_case(TRACESTATE)
}

/// Collects the trace headers among a message's string pairs, leniently: anything wrong with them
/// makes the message one without a trace context, never a malformed message.
#[derive(Default)]
pub(crate) struct TracePairs<'a> {
    parent: Option<&'a str>,
    state: Option<&'a str>,
    parents: u8,
    states: u8,
}

impl<'a> TracePairs<'a> {
    /// Takes the pair if it is a trace header (`true`), else leaves it to the caller (`false`).
    pub(crate) fn take(&mut self, name: &str, value: &'a str) -> bool {
        if name.eq_ignore_ascii_case(TRACEPARENT) {
            self.parent = Some(value);
            self.parents = self.parents.saturating_add(1);
            true
        } else if name.eq_ignore_ascii_case(TRACESTATE) {
            self.state = Some(value);
            self.states = self.states.saturating_add(1);
            true
        } else {
            false
        }
    }

    /// The trace context, if there was exactly one valid `traceparent`; with its `tracestate` if
    /// there was exactly one acceptable one (W3C: no `traceparent`, no `tracestate`).
    pub(crate) fn finish(self) -> Option<TraceContext> {
        if self.parents != 1 {
            return None;
        }
        let ctx = TraceContext::parse(self.parent?)?;
        let state = if self.states == 1 { self.state } else { None };
        Some(ctx.with_trace_state(state))
    }
}

impl TraceContext {
    /// The bytes its headers take on the wire: each name plus each value.
    pub(crate) fn wire_size(&self) -> usize {
        TRACEPARENT.len()
            + TRACEPARENT_LEN
            + self
                .trace_state()
                .map_or(0, |state| TRACESTATE.len() + state.len())
    }

    /// Appends its headers as (name, value) pairs.
    pub(crate) fn write_pairs(&self, out: &mut Vec<(Cow<'static, str>, String)>) {
        out.push((TRACEPARENT.into(), self.traceparent()));
        if let Some(state) = self.trace_state() {
            out.push((TRACESTATE.into(), state.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn read(pairs: &[(&str, &str)]) -> Option<TraceContext> {
        let mut trace = TracePairs::default();
        for (name, value) in pairs {
            assert!(trace.take(name, value));
        }
        trace.finish()
    }

    #[test]
    fn one_valid_traceparent_makes_a_context() {
        let ctx = read(&[("tracestate", "a=b"), ("Traceparent", VALID)]).expect("valid");
        assert_eq!(ctx.to_string(), VALID);
        assert_eq!(ctx.trace_state(), Some("a=b"));
        let mut pairs = Vec::new();
        ctx.write_pairs(&mut pairs);
        assert_eq!(
            ctx.wire_size(),
            pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        );
    }

    #[test]
    fn anything_else_is_no_context() {
        assert!(read(&[]).is_none());
        assert!(read(&[("tracestate", "a=b")]).is_none());
        assert!(read(&[("traceparent", "garbage")]).is_none());
        assert!(read(&[("traceparent", VALID), ("traceparent", VALID)]).is_none());
        let two_states = read(&[
            ("traceparent", VALID),
            ("tracestate", "a=b"),
            ("tracestate", "c=d"),
        ]);
        assert_eq!(two_states.expect("parent kept").trace_state(), None);
        assert!(!TracePairs::default().take("saga-id", "x"));
    }
}
