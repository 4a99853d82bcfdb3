//! Hand-built messages and a small participant for the participant, router and limit tests.

use saga::transport::TransportExt as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{
    Participant, ParticipantBuilder, ParticipantConfig, ReplyRouter, RouterConfig,
};
use saga::transport::{Headers, Message, MessageKind, ReplyStatus, Transport};
use saga::{Direction, IdempotencyKey, SagaId, StepError};
use tokio::sync::{mpsc, Semaphore};

/// A command `name` for the saga step `key`, attempt `attempt`, with a JSON `payload`.
pub fn command(name: &str, key: IdempotencyKey, attempt: u32, payload: &str) -> Message {
    let mut h = Headers::new(MessageKind::Command);
    h.name = Some(Arc::from(name));
    h.set_idempotency_key(key);
    h.attempt = Some(attempt);
    Message::with_headers(h, payload.to_owned())
}

/// [`command`] with its replies going to `reply_to`, for a fresh saga step.
pub fn command_to(reply_to: &str, name: &str, payload: &str) -> Message {
    let mut m = command(name, fresh_key(), 1, payload);
    m.headers.reply_to = Some(Arc::from(reply_to));
    m
}

/// The key of step 0, forward, of a new saga.
pub fn fresh_key() -> IdempotencyKey {
    IdempotencyKey::new(SagaId::new(), 0, Direction::Forward)
}

/// A reply router with the default configuration.
pub async fn router(t: &Arc<dyn Transport>) -> ReplyRouter {
    ReplyRouter::start(Arc::clone(t), RouterConfig::default())
        .await
        .expect("router")
}

/// A participant `bank` with one command, `debit` (cents in, cents out), handling one message at a time
/// so messages are handled in publish order.
pub async fn bank(t: &Arc<dyn Transport>) -> Participant {
    Participant::builder("bank", Arc::clone(t))
        .with_config(ParticipantConfig::default().with_concurrency(1))
        .command("debit", |_ctx, cents: u64| async move {
            Ok::<_, StepError>(cents)
        })
        .spawn()
        .await
        .expect("participant")
}

/// What a [`debiting_bank`]'s `debit` handler did: every execution is counted in `runs` and reported
/// on `started`, then waits for a permit of `gate`.
pub struct Debits {
    pub runs: Arc<AtomicU32>,
    pub started: mpsc::UnboundedReceiver<()>,
    pub gate: Arc<Semaphore>,
}

/// A participant `bank`, not spawned yet, whose `debit` (cents in, cents out) is counted and, if
/// `gated`, holds until the test adds a permit to [`Debits::gate`] (otherwise the gate is open).
pub fn debiting_bank(t: &Arc<dyn Transport>, gated: bool) -> (ParticipantBuilder, Debits) {
    let gate = Arc::new(Semaphore::new(if gated {
        0
    } else {
        Semaphore::MAX_PERMITS
    }));
    let (started_tx, started) = mpsc::unbounded_channel();
    let runs = Arc::new(AtomicU32::new(0));
    let (handler_gate, counter) = (Arc::clone(&gate), Arc::clone(&runs));
    let builder =
        Participant::builder("bank", Arc::clone(t)).command("debit", move |_ctx, cents: u64| {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = started_tx.send(());
            let gate = Arc::clone(&handler_gate);
            async move {
                let _pass = gate
                    .acquire()
                    .await
                    .map_err(|_| StepError::transient("gate closed"))?;
                Ok::<_, StepError>(cents)
            }
        });
    (
        builder,
        Debits {
            runs,
            started,
            gate,
        },
    )
}

/// Publishes every message of `bad` to the [`bank`], then sends it a good `debit` through `router` and
/// checks that it is served; the bank handles one message at a time, so by then the bad ones were handled.
pub async fn bad_then_good(
    t: &Arc<dyn Transport>,
    router: &ReplyRouter,
    bad: impl IntoIterator<Item = Message>,
) {
    for m in bad {
        t.publish("bank", m).await.expect("publish");
    }
    let good = command("debit", fresh_key(), 1, "250");
    let reply = router
        .request("bank", good, Duration::from_secs(5))
        .await
        .expect("the good command is still served");
    assert_eq!(&reply.payload[..], b"250");
}

/// A participant `shipping` that refuses every event on `orders` (a `String`) with
/// `"no carrier for {order}"`, so each one is dead-lettered.
pub async fn refusing_shipping(t: &Arc<dyn Transport>) -> Participant {
    Participant::builder("shipping", Arc::clone(t))
        .event("orders", |_ctx, order: String| async move {
            Err::<(), _>(StepError::permanent(format!("no carrier for {order}")))
        })
        .spawn()
        .await
        .expect("participant")
}

/// An `Ok` reply to the command with headers `request`, correlated to it as a participant sends it.
pub fn ok_reply(request: &Headers, payload: &'static str) -> Message {
    let mut h = Headers::new(MessageKind::Reply);
    h.saga_id = request.saga_id;
    h.step = request.step;
    h.direction = request.direction;
    h.attempt = request.attempt;
    h.correlation_id = Some(request.message_id);
    h.status = Some(ReplyStatus::Ok);
    Message::with_headers(h, payload)
}

/// A hand-written participant on `topic` that answers every command with [`ok_reply`] `"1"`, edited by
/// `tweak(request, reply)` first (to make the reply bad in some way).
pub async fn fake_participant(
    t: &Arc<dyn Transport>,
    topic: &str,
    tweak: impl Fn(&Headers, &mut Message) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let mut commands = t.subscribe_durable(topic, topic).await.expect("subscribe");
    let replier = Arc::clone(t);
    tokio::spawn(async move {
        while let Some(Ok(d)) = commands.next().await {
            let request = d.message().headers.clone();
            let mut reply = ok_reply(&request, "1");
            tweak(&request, &mut reply);
            let to = request.reply_to.expect("reply-to");
            replier.publish(&to, reply).await.expect("reply");
            d.ack().await.expect("ack");
        }
    })
}
