//! # Implementing a transport
//!
//! (Using one? Declare each command once as a [`participant::Command`](crate::participant::Command)
//! and build both sides from it, [`ParticipantBuilder::handle`](crate::participant::ParticipantBuilder::handle)
//! and [`ReplyRouter::remote_step`](crate::participant::ReplyRouter::remote_step): see
//! [Commands, typed end to end](#commands-typed-end-to-end) at the end.)
//!
//! A transport adapter implements four methods on [`Transport`](super::Transport), one on
//! [`Subscription`](super::Subscription) and four on [`Acker`](super::Acker), declares its
//! [`Capabilities`](super::Capabilities), and passes the shared conformance suite:
//!
//! ```ignore
//! mod my_broker {
//!     saga::transport_conformance_tests!(|| async { Some(my_transport().await) });
//! }
//! ```
//!
//! The macro generates one `#[test]` per check. `my_transport()` returns `Option<S>` with `S`
//! dereferencing to a `dyn Transport` (`None` when the broker is unreachable: the check is skipped);
//! an optional second argument cleans up after each check, and an optional third one is a
//! [`TransportConformance`](crate::testing::conformance::transport::TransportConformance) for what the
//! suite cannot ask the transport: how long a redelivery may take (a Redis claim idle time), the quiet
//! period, a name prefix. Everything else (ordering, count precision, the size limit) the checks read
//! from [`capabilities`](super::Transport::capabilities), so declare it truthfully.
//!
//! Each rule below names the check of [`crate::testing::conformance::transport`] that proves it.
//!
//! ## `publish`
//!
//! - Return `Ok` only once the broker has the message durably: await the publisher confirm (AMQP), the
//!   `XADD` reply (Redis). Pipeline confirms over a bounded window instead of one at a time. A message
//!   nobody can receive because no queue is bound is not an error for topics (fan-out to zero groups),
//!   but a broker that *returns* an unroutable mandatory message must surface it as an error.
//!   Checks: `round_trip`, `published_messages_survive_the_publisher`.
//! - Refuse a message over `max_message_size` ([`Message::size`](super::Message::size): headers and
//!   payload) before sending anything: `TransportError::MessageTooLarge`. Check: `size_limit`.
//! - During a connection loss, fail with a transient error rather than block forever.
//!
//! ## `subscribe(topic, group, options)`
//!
//! - One durable queue (AMQP) or consumer group (Redis) per **(topic, group)**: name it after both, never
//!   after the group alone, or a participant that subscribes one group name to several event topics gets
//!   each topic's messages on every subscription. Check: `one_group_on_several_topics`.
//! - Every group of a topic receives every message published after it was created (fan-out), also
//!   while none of its consumers is connected; the consumers of one group compete. Checks:
//!   `fan_out_to_groups`, `durable_group`, `competing_consumers`.
//! - Declare `per_topic_ordering` only if one publisher's messages reach each group in publish order.
//!   Check: `ordering_per_publisher` (skipped when not declared).
//! - `options.expire_after`: the group disappears once unused that long (AMQP `x-expires`; Redis: a
//!   TTL on the group's keys renewed by its readers). Declare `group_expiry` if you do this.
//! - `delete_group` removes the group and its messages; unknown groups are `Ok`. Check: `delete_group`.
//!
//! ## `Subscription::next`
//!
//! - Cancel safe: the runtime selects over it; a dropped `next` future loses nothing.
//! - On a connection loss: reconnect with backoff, re-declare the topology, resume consuming; yield
//!   transient errors (`TransportError::Connection`) meanwhile if you like, and keep going. Return `None`
//!   only after the transport was closed. Deliveries of the dead connection must not be acked as if they
//!   had succeeded: their acker reports an error, and the broker redelivers them.
//!   Check: `survives_a_connection_loss`, which runs the transport under test behind a
//!   [`DisconnectingTransport`](crate::testing::DisconnectingTransport): it proves the contract's shape
//!   and that deliveries of a consumer that went away come back on its new subscription. Cutting the
//!   real connection (`CLIENT KILL`, a broker restart) is for the adapter's own tests.
//! - Measure a received message before decoding its headers; a message whose headers do not decode is
//!   delivered as a malformed delivery or dead-lettered with the reason, never dropped silently.
//!
//! ## `Delivery` and `Acker`
//!
//! - [`DeliveryCount`](super::DeliveryCount): `Exact(n)` where the broker counts (in-process, Redis
//!   `XPENDING`'s times-delivered, quorum queues' `x-delivery-count` + 1), `AtLeast(2)` for a classic
//!   AMQP `redelivered` flag, `Unknown` otherwise; declare the precision in
//!   [`Capabilities::delivery_count`](super::Capabilities). The participant runtime dead-letters a
//!   message whose count [`exceeds`](super::DeliveryCount::exceeds) its `max_deliveries`; with `Unknown`
//!   counts it keeps its own count per message id, and a broker-side limit
//!   (`native_dead_letter`) is the backstop. Checks: `delivery_counts`, `redelivery_after_nack`,
//!   `redelivery_after_drop`.
//! - `ack`: never deliver again. After a channel or connection died, an ack of its deliveries is an
//!   error, not a silent success.
//! - `requeue(message, delay)`: deliver again no sooner than `delay`, and **return at once**: nothing
//!   of the consumer (a concurrency slot, a prefetch credit, a pending-entry claim) may be held while the
//!   delay runs. Brokers without delays keep a timer or a delay queue (NServiceBus's TTL + dead-letter
//!   levels on RabbitMQ; a sorted set of due entries on Redis). Check: `requeue_with_delay`.
//! - `dead_letter(message, reason)`: never deliver again; keep the message where operators find dead
//!   letters, with the reason in the [`DEAD_LETTER_REASON`](super::DEAD_LETTER_REASON) header, published
//!   to [`dead_letter_topic`](super::dead_letter_topic). Check: `dead_letters_keep_their_reason`.
//! - `abandon(message)`: called from `Drop`, maybe outside any runtime: never block, never panic, do not
//!   assume tokio. Doing nothing is right when the broker redelivers by itself. Check:
//!   `abandon_outside_a_runtime`.
//!
//! ## Headers and tracing
//!
//! Carry every header of [`Headers::to_pairs`](super::Headers::to_pairs) as a string header and parse
//! with [`Headers::from_pairs`](super::Headers::from_pairs); one mapping is shared by every adapter.
//!
//! The W3C trace context is one of them: [`Headers::trace`](super::Headers::trace) is written as
//! `traceparent` (and `tracestate` when there is one) under exactly those names, not `saga-`
//! prefixed, so any instrumented consumer reads them. Carry them like any other string header: as AMQP
//! message headers (not in `correlation_id` or other properties), as fields of a Redis stream entry,
//! and count them in [`Message::size`](super::Message::size) like the rest (`to_pairs` and
//! [`Headers::size`](super::Headers::size) agree byte for byte). Never reject or dead-letter a message
//! for its trace headers: `from_pairs` already reads a missing, repeated or invalid `traceparent` as
//! no trace context. A broker that folds header names to another case is fine; `from_pairs` matches
//! the two names in any case. See [`crate::trace`] for who sets which span id.
//!
//! ## Commands, typed end to end
//!
//! A transport moves bytes; what a command's bytes mean is agreed on by the two ends. Declare each
//! command once as a [`Command`](crate::participant::Command) (its wire name, request type and reply
//! type) in code both ends use, and build both ends from it: the participant's handler with
//! [`ParticipantBuilder::handle`](crate::participant::ParticipantBuilder::handle), the orchestrator's
//! step and compensation with [`ReplyRouter::remote_step`](crate::participant::ReplyRouter::remote_step)
//! and [`remote_compensation`](crate::participant::ReplyRouter::remote_compensation). A handler that
//! replies with another type, or a step that sends or expects another type, then fails to compile
//! instead of being dead-lettered as malformed at run time. This is the recommended way; the
//! name-based `command` and `step` remain, and the two interoperate on the wire (the name header is
//! [`Command::NAME`](crate::participant::Command::NAME), the payloads are JSON of the two types).
