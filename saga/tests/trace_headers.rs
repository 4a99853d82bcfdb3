//! The `traceparent` header: strict parsing that never panics and never fails a message, its string
//! wire form, and the trace a participant continues (or starts) when a message comes without one.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use saga::participant::{EventPublisher, Participant};
use saga::trace::{SpanId, TraceContext, TraceId, TRACEPARENT, TRACESTATE};
use saga::transport::{
    Headers, InProcTransport, Message, MessageId, MessageKind, Subscription, Transport,
    TransportExt as _,
};
use saga::{Direction, IdempotencyKey, SagaId, StepError};

/// Parses headers of an event whose only other pairs are `extra`.
fn event_with(extra: &[(&str, &str)]) -> Headers {
    let id = MessageId::new().to_string();
    let mut pairs = vec![("saga-message-id", id.as_str()), ("saga-kind", "event")];
    pairs.extend_from_slice(extra);
    Headers::from_pairs(pairs).expect("a bad trace header never makes a message malformed")
}

/// Every header's name and value as written to a broker.
fn written(h: &Headers) -> usize {
    h.to_pairs().iter().map(|(k, v)| k.len() + v.len()).sum()
}

proptest! {
    #[test]
    fn parsing_any_string_never_panics_and_accepts_only_what_it_writes_back(s in any::<String>()) {
        if let Some(ctx) = TraceContext::parse(&s) {
            prop_assert_eq!(ctx.to_string(), s);
        }
    }

    #[test]
    fn near_misses_are_rejected_or_round_trip(s in "[0-9a-fA-F-]{1,3}[0-9a-fA-F-]{52,54}") {
        if let Some(ctx) = TraceContext::parse(&s) {
            prop_assert_eq!(ctx.traceparent(), s);
        }
    }

    #[test]
    fn valid_contexts_round_trip(trace in any::<[u8; 16]>(), span in any::<[u8; 8]>(), flags: u8) {
        let (Some(trace), Some(span)) = (TraceId::from_bytes(trace), SpanId::from_bytes(span)) else {
            return Ok(());
        };
        let ctx = TraceContext::new(trace, span, flags);
        let text = ctx.traceparent();
        prop_assert_eq!(text.len(), saga::trace::TRACEPARENT_LEN);
        prop_assert_eq!(TraceContext::parse(&text), Some(ctx));
    }

    #[test]
    fn any_trace_headers_parse_leniently_and_size_stays_exact(
        parent in prop_oneof![any::<String>(), "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"],
        state in any::<String>(),
    ) {
        let h = event_with(&[(TRACEPARENT, &parent), (TRACESTATE, &state)]);
        prop_assert_eq!(h.trace.is_some(), TraceContext::parse(&parent).is_some());
        prop_assert_eq!(h.size(), written(&h));
        let pairs = h.to_pairs();
        let again = Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_str())));
        prop_assert_eq!(again.expect("round trip"), h);
    }
}

#[test]
fn invalid_or_repeated_traceparents_are_no_context() {
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(event_with(&[("traceparent", valid)]).trace.is_some());
    assert!(event_with(&[("TRACEPARENT", valid)]).trace.is_some());
    for bad in ["", "00-xyz", &valid.to_uppercase(), &"0".repeat(10_000)] {
        let h = event_with(&[("traceparent", bad), ("tracestate", "a=b")]);
        assert_eq!(h.trace, None, "{bad:?}");
        assert_eq!(h.extra().count(), 0, "not kept as a free-form header");
    }
    let twice = event_with(&[("traceparent", valid), ("traceparent", valid)]);
    assert_eq!(twice.trace, None);
}

/// A command to `inventory` from saga `saga`, with `trace`, whose reply goes to `replies`.
fn command(saga: SagaId, trace: Option<TraceContext>) -> Message {
    let mut h = Headers::new(MessageKind::Command);
    h.name = Some(Arc::from("reserve"));
    h.set_idempotency_key(IdempotencyKey::new(saga, 0, Direction::Forward));
    h.attempt = Some(1);
    h.reply_to = Some(Arc::from("replies"));
    h.trace = trace;
    Message::with_headers(h, "1")
}

async fn next(sub: &mut Box<dyn Subscription>) -> Message {
    let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("delivery");
    let m = d.message().clone();
    d.ack().await.expect("ack");
    m
}

#[tokio::test]
async fn participants_continue_the_message_trace_or_the_saga_trace() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let mut replies = t.subscribe_durable("replies", "test").await.expect("sub");
    let mut events = t.subscribe_durable("reserved", "test").await.expect("sub");
    let publisher = EventPublisher::new(Arc::clone(&t));
    let inventory = Participant::builder("inventory", Arc::clone(&t))
        .command("reserve", move |ctx, qty: u32| {
            let publisher = publisher.clone();
            async move {
                publisher
                    .publish("reserved", Some(ctx.saga_id()), &qty)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                Ok::<_, StepError>(ctx.trace().traceparent())
            }
        })
        .spawn()
        .await
        .expect("participant");

    // With a traceparent: the same trace, the sender's span as parent.
    let saga = SagaId::new();
    let sender = TraceContext::root().with_trace_state(Some("vendor=x"));
    t.publish("inventory", command(saga, Some(sender.clone())))
        .await
        .expect("publish");
    let reply = next(&mut replies).await;
    let handler: String = serde_json::from_slice(&reply.payload).expect("reply");
    let on_reply = reply.headers.trace.clone().expect("traced reply");
    assert_eq!(on_reply.traceparent(), handler);
    assert_eq!(on_reply.trace_id(), sender.trace_id());
    assert_ne!(on_reply.span_id(), sender.span_id());
    assert_eq!(on_reply.trace_state(), Some("vendor=x"));
    let event = next(&mut events).await.headers.trace.expect("traced event");
    assert_eq!(event, on_reply, "the event's parent is the handler's span");

    // Without one (or with an invalid one, which parses as none): the saga's trace.
    let saga = SagaId::new();
    t.publish("inventory", command(saga, None))
        .await
        .expect("publish");
    let reply = next(&mut replies)
        .await
        .headers
        .trace
        .expect("traced reply");
    assert_eq!(reply.trace_id(), TraceId::from_saga(saga));
    let event = next(&mut events).await.headers.trace.expect("traced event");
    assert_eq!(event.span_id(), reply.span_id());
    inventory.shutdown().await;
}

#[tokio::test]
async fn a_publisher_outside_any_handler_starts_or_continues_a_trace() {
    let t: Arc<dyn Transport> = Arc::new(InProcTransport::new());
    let mut events = t.subscribe_durable("orders", "test").await.expect("sub");
    let publisher = EventPublisher::new(Arc::clone(&t));
    let saga = SagaId::new();
    publisher
        .publish("orders", Some(saga), &1)
        .await
        .expect("publish");
    let of_saga = next(&mut events).await.headers.trace.expect("traced");
    assert_eq!(of_saga.trace_id(), TraceId::from_saga(saga));
    publisher
        .publish("orders", None, &2)
        .await
        .expect("publish");
    let fresh = next(&mut events).await.headers.trace.expect("traced");
    assert_ne!(fresh.trace_id(), of_saga.trace_id());
    let caller = TraceContext::root();
    publisher
        .clone()
        .with_trace(caller.clone())
        .publish("orders", Some(saga), &3)
        .await
        .expect("publish");
    assert_eq!(next(&mut events).await.headers.trace, Some(caller.clone()));
    // Inside a scope (a saga step, a handler), the scope's context is the caller's.
    saga::trace::scope(caller.clone(), publisher.publish("orders", None, &4))
        .await
        .expect("publish");
    assert_eq!(next(&mut events).await.headers.trace, Some(caller));
}
