//! The participant runtime acks a command only after its reply was published: while the reply publish
//! is under way the command stays unsettled, and when it fails transiently the command is requeued (not
//! acked) and answered, from the idempotency store, once publishing works again.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use saga::async_trait;
use saga::participant::{Participant, ReplyRouter};
use saga::testing::Gate;
use saga::transport::{
    Capabilities, InProcConfig, InProcTransport, Message, SubscribeOptions, Subscription,
    Transport, TransportError,
};

use common::messages::{command, debiting_bank, fresh_key, router, Debits};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Forwards everything, except that publishes of replies (to `saga.replies.*`) first pass `gate`,
/// then fail transiently while `failures` lasts.
struct ReplyTrouble {
    inner: Arc<dyn Transport>,
    failures: AtomicU32,
    gate: Gate,
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Transport for ReplyTrouble {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        if topic.starts_with("saga.replies.") {
            self.gate.pass().await;
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if failing.is_ok() {
                return Err(TransportError::connection("reply publish refused (test)"));
            }
        }
        self.inner.publish(topic, message).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        self.inner.subscribe(topic, group, options).await
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        self.inner.delete_group(topic, group).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

struct Setup {
    inproc: Arc<InProcTransport>,
    trouble: Arc<ReplyTrouble>,
    debits: Debits,
    bank: Participant,
    router: ReplyRouter,
}

/// A `bank` participant and a router over a [`ReplyTrouble`] over `inproc`.
async fn setup(inproc: InProcTransport, failures: u32, gate: Gate) -> Setup {
    let inproc = Arc::new(inproc);
    let trouble = Arc::new(ReplyTrouble {
        inner: inproc.clone(),
        failures: AtomicU32::new(failures),
        gate,
    });
    let t: Arc<dyn Transport> = trouble.clone();
    let (bank, debits) = debiting_bank(&t, false);
    let bank = bank.spawn().await.expect("participant");
    let router = router(&t).await;
    Setup {
        inproc,
        trouble,
        debits,
        bank,
        router,
    }
}

#[tokio::test(start_paused = true)]
async fn a_command_whose_reply_cannot_be_published_is_requeued_and_answered_later() {
    let s = setup(InProcTransport::new(), 2, Gate::passing()).await;
    let reply = s
        .router
        .request("bank", command("debit", fresh_key(), 1, "250"), TIMEOUT)
        .await
        .expect("answered once publishing works again");
    assert_eq!(&reply.payload[..], b"250");
    assert_eq!(
        s.debits.runs.load(Ordering::SeqCst),
        1,
        "executed once, re-answered from the store"
    );
    let stats = s.bank.stats();
    assert_eq!(
        stats.requeued, 2,
        "requeued after each failed reply publish: {stats:?}"
    );
    assert_eq!(
        stats.duplicates, 2,
        "each redelivery found the stored reply: {stats:?}"
    );
    assert_eq!(s.trouble.failures.load(Ordering::SeqCst), 0);
    s.bank.shutdown().await;
    assert_eq!(s.inproc.queued("bank", "bank"), 0, "acked in the end");
    assert!(s.inproc.dead_letters().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_command_stays_unsettled_until_its_reply_is_published() {
    // One message per group: a second command can only be published once the first is settled.
    let inproc = InProcTransport::with_config(InProcConfig::default().with_capacity(1));
    let s = setup(inproc, 0, Gate::new()).await;
    let requester = s.router.clone();
    let request = tokio::spawn(async move {
        requester
            .request("bank", command("debit", fresh_key(), 1, "1"), TIMEOUT)
            .await
    });
    tokio::time::timeout(TIMEOUT, s.trouble.gate.entered())
        .await
        .expect("the reply publish started");
    let inproc = Arc::clone(&s.inproc);
    let second = inproc.publish("bank", command("debit", fresh_key(), 1, "2"));
    tokio::pin!(second);
    for _ in 0..10 {
        tokio::task::yield_now().await;
        assert!(
            futures::poll!(second.as_mut()).is_pending(),
            "the command was settled before its reply was published"
        );
    }
    s.trouble.gate.open();
    let reply = request.await.expect("task").expect("reply");
    assert_eq!(&reply.payload[..], b"1");
    second
        .await
        .expect("the ack after the reply freed the group");
    s.bank.shutdown().await;
}
