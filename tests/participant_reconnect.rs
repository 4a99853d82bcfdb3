//! A participant over a connection that drops ([`DisconnectingTransport`]): it keeps handling commands
//! across disconnects, and a command whose delivery was cut off while its handler ran is executed once
//! (the idempotency store holds the claim) and answered.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use saga::async_trait;
use saga::participant::{
    Claim, IdempotencyStore, InMemoryIdempotencyStore, StoreError, StoredReply,
};
use saga::testing::DisconnectingTransport;
use saga::transport::{InProcTransport, Transport};
use tokio::sync::mpsc;

use common::messages::{command, debiting_bank, fresh_key, router};

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(start_paused = true)]
async fn a_participant_keeps_handling_commands_across_two_disconnects() {
    let link = Arc::new(DisconnectingTransport::new(
        Arc::new(InProcTransport::new()),
    ));
    let t: Arc<dyn Transport> = link.clone();
    let (bank, debits) = debiting_bank(&t, false);
    let bank = bank.spawn().await.expect("participant");
    let router = router(&t).await;
    for round in 0..3u64 {
        if round > 0 {
            link.disconnect();
        }
        let cents = 100 + round;
        let reply = router
            .request(
                "bank",
                command("debit", fresh_key(), 1, &cents.to_string()),
                TIMEOUT,
            )
            .await
            .unwrap_or_else(|e| panic!("no answer after {round} disconnects: {e}"));
        assert_eq!(reply.payload, cents.to_string());
    }
    assert_eq!(debits.runs.load(Ordering::SeqCst), 3);
    let stats = link.stats();
    assert_eq!(stats.disconnects, 2);
    assert!(
        stats.reconnects >= 4,
        "the participant and the router subscribed again after each loss: {stats:?}"
    );
    bank.shutdown().await;
}

/// An [`InMemoryIdempotencyStore`] that reports every claim's answer.
struct ObservedStore {
    inner: InMemoryIdempotencyStore,
    claims: mpsc::UnboundedSender<Claim>,
}

#[async_trait]
impl IdempotencyStore for ObservedStore {
    async fn claim(&self, scope: &str, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let claim = self.inner.claim(scope, key, lease).await?;
        let _ = self.claims.send(claim.clone());
        Ok(claim)
    }

    async fn complete(&self, scope: &str, key: &str, reply: StoredReply) -> Result<(), StoreError> {
        self.inner.complete(scope, key, reply).await
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.inner.release(scope, key).await
    }
}

/// The next claim the participant made (on the paused clock, a claim that never comes fails the test
/// as soon as nothing else is left to run).
async fn next_claim(claims: &mut mpsc::UnboundedReceiver<Claim>) -> Claim {
    match tokio::time::timeout(TIMEOUT, claims.recv()).await {
        Ok(Some(claim)) => claim,
        other => panic!("no claim: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_command_cut_off_while_handled_is_executed_once_and_answered() {
    let inproc = Arc::new(InProcTransport::new());
    let link = Arc::new(DisconnectingTransport::new(inproc.clone()));
    let t: Arc<dyn Transport> = link.clone();
    let (claims_tx, mut claims) = mpsc::unbounded_channel();
    let store = Arc::new(ObservedStore {
        inner: InMemoryIdempotencyStore::new(),
        claims: claims_tx,
    });
    let (bank, debits) = debiting_bank(&t, true);
    let bank = bank.with_store(store).spawn().await.expect("participant");
    let router = router(&t).await;
    let requester = router.clone();
    let request = tokio::spawn(async move {
        requester
            .request("bank", command("debit", fresh_key(), 1, "250"), TIMEOUT)
            .await
    });

    assert_eq!(
        next_claim(&mut claims).await,
        Claim::Acquired,
        "the handler runs"
    );
    link.disconnect();
    assert_eq!(
        link.stats().cut_deliveries,
        1,
        "the command's delivery was cut off"
    );
    assert_eq!(
        next_claim(&mut claims).await,
        Claim::InProgress,
        "the redelivered command finds the claim of the running handler"
    );
    debits.gate.add_permits(1);
    let reply = request
        .await
        .expect("task")
        .expect("the command is answered");
    assert_eq!(&reply.payload[..], b"250");

    bank.shutdown().await;
    assert_eq!(debits.runs.load(Ordering::SeqCst), 1, "executed once");
    let stats = link.stats();
    assert_eq!(
        stats.stale_settlements, 1,
        "the ack of the cut-off delivery was refused, not taken for a success"
    );
    assert_eq!(inproc.queued("bank", "bank"), 0, "nothing left to deliver");
    assert!(inproc.dead_letters().is_empty());
}
