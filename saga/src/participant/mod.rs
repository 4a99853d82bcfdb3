//! The participant runtime: services that execute saga commands and react to events, over any
//! [`Transport`](crate::transport::Transport), with each effect applied once.
//!
//! - **Commands** (orchestration). Declare each command once as a [`Command`] (its name, request
//!   type and reply type); a [`Participant`] registers its handler with
//!   [`ParticipantBuilder::handle`] and the orchestrator builds its step with
//!   [`ReplyRouter::remote_step`] from the same declaration, so a type mismatch does not compile
//!   (the untyped [`ParticipantBuilder::command`] and [`ReplyRouter::step`] take the name as a string
//!   and the types from the closures). Each command carries its saga step's
//!   [`IdempotencyKey`](crate::IdempotencyKey), and the runtime claims the key in an
//!   [`IdempotencyStore`] before running the handler, records the reply, publishes it, and only then
//!   acknowledges the command. A duplicate gets the stored reply again instead of a second execution.
//! - **Replies**. The orchestrator side is a [`ReplyRouter`] (one reply subscription per orchestrator
//!   process) and the [`RemoteStep`] / [`RemoteCompensation`] bridges
//!   ([`remote_step`](ReplyRouter::remote_step), [`remote_compensation`](ReplyRouter::remote_compensation))
//!   that plug a participant into a saga definition. A reply is accepted once, only by the request it answers.
//! - **Events** (choreography). [`EventPublisher`] publishes typed events; [`ParticipantBuilder::event`]
//!   handles them in the participant's group, once per event id.
//! - **Bad input.** A message over the size limit (headers and payload together, see
//!   [`Message::size`](crate::transport::Message::size); 1 MiB by default) is dead-lettered before
//!   anything in it is decoded or copied; a message whose saga headers disagree with each other or are
//!   incomplete ([`Headers::check_consistency`](crate::transport::Headers::check_consistency)) is
//!   dead-lettered before it is dispatched; any other malformed or unroutable message is dead-lettered
//!   with its reason; none of them stops other messages. Dead-letter reasons and logged values are
//!   [bounded](crate::transport::Bounded) to 256 bytes.
//! - **Tracing** ([`crate::trace`]). Every command, reply and event carries a W3C `traceparent`.
//!   [`RemoteStep`] sends the step attempt's context ([`StepContext::trace`](crate::StepContext::trace));
//!   the runtime runs each handler in a `saga.participant.command` or `saga.participant.event` span
//!   with `trace_id`, `parent_span_id` (the sender's span, from the header) and its own `span_id`,
//!   hands that context to the handler ([`CommandContext::trace`], [`EventContext::trace`]) and puts
//!   it on the reply and on every event published while the handler runs. A command or event without
//!   a valid `traceparent` is handled all the same, in a new span of its saga's trace (the trace id is
//!   the saga id's bytes) or, for an event outside any saga, a new trace.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use saga::participant::{Command, Participant, ReplyRouter, RouterConfig};
//! use saga::transport::{InProcTransport, Transport};
//! use saga::{Executor, InMemoryLog, SagaDefinition, StepError};
//!
//! // Declared once, where both sides see it.
//! struct Debit;
//! impl Command for Debit { const NAME: &'static str = "debit"; type Request = u64; type Reply = u64; }
//! struct Credit;
//! impl Command for Credit { const NAME: &'static str = "credit"; type Request = u64; type Reply = (); }
//!
//! let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
//! let bank = Participant::builder("bank", Arc::clone(&transport))
//!     .handle(Debit, |_ctx, cents| async move { Ok::<_, StepError>(cents) })
//!     .handle(Credit, |_ctx, _cents| async move { Ok::<_, StepError>(()) })
//!     .spawn().await?;
//! let router = ReplyRouter::start(transport, RouterConfig::default()).await?;
//! let def = SagaDefinition::<u64>::builder("pay", 1)
//!     .compensatable(
//!         "debit",
//!         router.remote_step("bank", Debit, |cents: &u64| *cents, |_d: &mut u64, _r| {}),
//!         router.remote_compensation("bank", Credit, |cents: &u64| *cents),
//!     )
//!     .build()?;
//! let outcome = Executor::new(def, Arc::new(InMemoryLog::new())).run(250).await?;
//! assert!(outcome.is_completed());
//! bank.shutdown().await;
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```

mod builder;
mod command;
mod config;
mod context;
mod early;
mod events;
mod handler;
mod on_command;
mod on_event;
mod redeliveries;
mod remote;
mod router;
mod runtime;
mod state;
mod store;
mod wire;

pub use builder::ParticipantBuilder;
pub use command::Command;
pub use config::{ParticipantConfig, RouterConfig};
pub use context::{CommandContext, EventContext};
pub use events::EventPublisher;
pub use remote::{RemoteCompensation, RemoteStep};
pub use router::{ReplyRouter, RouterStats};
pub use runtime::{Participant, ParticipantStats};
pub use state::{State, StatefulBuilder};
pub use store::{
    Claim, IdempotencyStore, InMemoryIdempotencyStore, StoreError, StoredReply, MAX_STORE_KEY_LEN,
};
