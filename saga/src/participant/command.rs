//! Commands declared once: a name, a request type and a reply type, shared by the orchestrator's
//! remote step and the participant's handler so that the two cannot disagree.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{CommandContext, ParticipantBuilder, RemoteCompensation, RemoteStep, ReplyRouter};
use crate::step::StepError;

/// A command a participant handles: its wire name, what the orchestrator sends and what the
/// participant replies. Declare it once, in a crate or module both sides use; the orchestrator
/// builds its step with [`ReplyRouter::remote_step`] and the participant registers its handler with
/// [`ParticipantBuilder::handle`], both from the same declaration, so a request or reply type that
/// does not match is a compile error instead of a malformed message at run time.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use saga::participant::{Command, Participant, ReplyRouter, RouterConfig};
/// use saga::transport::{InProcTransport, Transport};
/// use saga::{Executor, InMemoryLog, SagaDefinition, StepError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Order { cents: u64, payment: String }
///
/// /// Debit an amount in cents; the reply is the payment id.
/// struct Debit;
/// impl Command for Debit {
///     const NAME: &'static str = "debit";
///     type Request = u64;
///     type Reply = String;
/// }
///
/// let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
/// let bank = Participant::builder("bank", Arc::clone(&transport))
///     .handle(Debit, |_ctx, cents| async move { Ok::<_, StepError>(format!("pay-{cents}")) })
///     .spawn().await?;
/// let router = ReplyRouter::start(transport, RouterConfig::default()).await?;
/// let def = SagaDefinition::builder("pay", 1)
///     .pivot("debit", router.remote_step("bank", Debit, |o: &Order| o.cents, |o: &mut Order, id| o.payment = id))
///     .build()?;
/// let outcome = Executor::new(def, Arc::new(InMemoryLog::new()))
///     .run(Order { cents: 250, payment: String::new() }).await?;
/// assert_eq!(outcome.data.payment, "pay-250");
/// bank.shutdown().await;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
///
/// A handler that replies with another type than the command declares does not compile:
///
/// ```compile_fail,E0271
/// # use std::sync::Arc;
/// # use saga::participant::{Command, Participant};
/// # use saga::transport::{InProcTransport, Transport};
/// # use saga::StepError;
/// # struct Debit;
/// # impl Command for Debit {
/// #     const NAME: &'static str = "debit";
/// #     type Request = u64;
/// #     type Reply = String;
/// # }
/// # let transport: Arc<dyn Transport> = Arc::new(InProcTransport::new());
/// let bank = Participant::builder("bank", transport)
///     .handle(Debit, |_ctx, cents| async move { Ok::<_, StepError>(cents) }); // u64, not String
/// ```
///
/// and neither does a step that sends or expects another type:
///
/// ```compile_fail,E0631
/// # async fn demo(router: saga::participant::ReplyRouter) {
/// # use saga::participant::Command;
/// # use saga::SagaDefinition;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Clone, Serialize, Deserialize)]
/// # struct Order { cents: u64, payment: String }
/// # struct Debit;
/// # impl Command for Debit {
/// #     const NAME: &'static str = "debit";
/// #     type Request = u64;
/// #     type Reply = String;
/// # }
/// let def = SagaDefinition::builder("pay", 1)
///     .pivot("debit", router.remote_step("bank", Debit, |o: &Order| o.cents, |o: &mut Order, id: u64| o.cents = id)); // u64, not String
/// # }
/// ```
pub trait Command {
    /// The name the command travels under (the `name` header); unique among the commands of one
    /// participant.
    const NAME: &'static str;
    /// What the orchestrator sends.
    type Request: Serialize + DeserializeOwned + Send + 'static;
    /// What the participant replies when it succeeds.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}

impl ReplyRouter {
    /// A step that sends the command `K`, built from the saga data by `to_request`, to the participant
    /// listening on `topic` (by default the participant's name), and folds the reply into the data
    /// with `on_reply`. The typed form of [`step`](Self::step), and the recommended one.
    pub fn remote_step<K, D, F, G>(
        &self,
        topic: impl Into<Arc<str>>,
        _command: K,
        to_request: F,
        on_reply: G,
    ) -> RemoteStep<D, K::Request, K::Reply, F, G>
    where
        K: Command,
        F: Fn(&D) -> K::Request,
        G: Fn(&mut D, K::Reply),
    {
        self.step(topic, K::NAME, to_request, on_reply)
    }

    /// A compensation that sends the command `K`, built from the saga data by `to_request`, to the
    /// participant on `topic`; the reply only has to be well-formed JSON. The typed form of
    /// [`compensation`](Self::compensation), and the recommended one.
    pub fn remote_compensation<K, D, F>(
        &self,
        topic: impl Into<Arc<str>>,
        _command: K,
        to_request: F,
    ) -> RemoteCompensation<D, K::Request, F>
    where
        K: Command,
        F: Fn(&D) -> K::Request,
    {
        self.compensation(topic, K::NAME, to_request)
    }
}

impl ParticipantBuilder {
    /// Handles the command `K`: decodes its request, runs `handler` once per idempotency key and
    /// replies with its reply (or with the error: permanent means "no", transient means "try
    /// again"). The typed form of [`command`](Self::command), and the recommended one; registering
    /// one name twice replaces the first handler.
    pub fn handle<K, F, Fut>(self, _command: K, handler: F) -> Self
    where
        K: Command,
        F: Fn(CommandContext, K::Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<K::Reply, StepError>> + Send + 'static,
    {
        self.command(K::NAME, handler)
    }
}
