//! The reply channel of an orchestrator (`saga.replies.<owner id>`) outlives the orchestrator: a reply
//! published while it is down waits there and answers the request the restarted orchestrator re-issues
//! with the same message id; `ReplyRouter::shutdown` deletes the channel.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use saga::participant::{ReplyRouter, RouterConfig};
use saga::transport::{InProcTransport, Transport, TransportExt as _};
use saga::{Error, Executor, ExecutorConfig, InMemoryLog, SagaDefinition, SagaState, StepError};

use common::messages::{command, debiting_bank, fresh_key, ok_reply};

const TIMEOUT: Duration = Duration::from_secs(30);
const REPLIES: &str = "saga.replies.o1";

/// A reply router of the orchestrator with owner id `o1`.
async fn router_o1(t: &Arc<dyn Transport>) -> ReplyRouter {
    ReplyRouter::start(Arc::clone(t), RouterConfig::default().with_owner_id("o1"))
        .await
        .expect("router")
}

/// Lets the runtime drop the tasks just aborted (a crashed router's routing task) before going on.
async fn let_aborted_tasks_go() {
    tokio::task::yield_now().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_router_answers_a_reissued_request_from_the_reply_sent_while_it_was_down() {
    let inproc = Arc::new(InProcTransport::new());
    let t: Arc<dyn Transport> = inproc.clone();
    let mut commands = t
        .subscribe_durable("bank", "bank")
        .await
        .expect("subscribe");
    let first = router_o1(&t).await;
    assert_eq!(first.reply_topic(), REPLIES);
    let request = command("debit", fresh_key(), 1, "250");
    let requester = first.clone();
    let reissue = request.clone();
    let in_flight = tokio::spawn(async move { requester.request("bank", request, TIMEOUT).await });
    let cmd = commands.next().await.expect("open").expect("the command");

    // The orchestrator crashes with the request in flight; the participant answers afterwards.
    in_flight.abort();
    assert!(
        in_flight.await.is_err(),
        "the request died with its orchestrator"
    );
    drop(first);
    let_aborted_tasks_go().await;
    let to = cmd.message().headers.reply_to.clone().expect("reply-to");
    assert_eq!(&*to, REPLIES);
    t.publish(&to, ok_reply(&cmd.message().headers, "\"sent while down\""))
        .await
        .expect("reply");
    cmd.ack().await.expect("ack");
    assert_eq!(
        inproc.queued(REPLIES, REPLIES),
        1,
        "the reply waits for its orchestrator"
    );

    // Restarted with the same owner id, it re-issues the request (same message id): nobody executes
    // the command again, so only the reply that waited can answer it.
    let second = router_o1(&t).await;
    let reply = second
        .request("bank", reissue, TIMEOUT)
        .await
        .expect("answered by the waiting reply");
    assert_eq!(&reply.payload[..], b"\"sent while down\"");
    assert_eq!(second.stats().accepted, 1);
}

fn definition(router: &ReplyRouter) -> SagaDefinition<u64> {
    SagaDefinition::<u64>::builder("pay", 1)
        .compensatable(
            "debit",
            router.step(
                "bank",
                "debit",
                |c: &u64| *c,
                |d: &mut u64, r: u64| *d = r + 1,
            ),
            router.compensation("bank", "credit", |c: &u64| *c),
        )
        .build()
        .expect("valid")
}

fn executor(router: &ReplyRouter, log: &Arc<InMemoryLog>) -> Executor<u64> {
    Executor::with_config(
        definition(router),
        log.clone(),
        ExecutorConfig::default().with_owner_id("o1"),
    )
}

#[tokio::test(start_paused = true)]
async fn a_saga_recovered_after_an_orchestrator_crash_completes_from_the_reply_sent_meanwhile() {
    let inproc = Arc::new(InProcTransport::new());
    let t: Arc<dyn Transport> = inproc.clone();
    let log = Arc::new(InMemoryLog::new());
    let (bank, mut debits) = debiting_bank(&t, true);
    let bank = bank
        .command("credit", |_ctx, _cents: u64| async move {
            Ok::<_, StepError>(())
        })
        .spawn()
        .await
        .expect("participant");

    let router = router_o1(&t).await;
    let exec = executor(&router, &log);
    let handle = exec.start(250).await.expect("start");
    let id = handle.id();
    match tokio::time::timeout(TIMEOUT, debits.started.recv()).await {
        Ok(Some(())) => {}
        other => panic!("the command never reached the participant: {other:?}"),
    }

    // The orchestrator crashes mid-step.
    handle.abort();
    assert!(matches!(
        handle.outcome().await,
        Err(Error::DriverAborted { .. })
    ));
    drop((exec, router));
    let_aborted_tasks_go().await;
    // The participant answers while it is down, then goes away for good.
    debits.gate.add_permits(1);
    bank.shutdown().await;
    assert_eq!(
        inproc.queued(REPLIES, REPLIES),
        1,
        "the reply waits for its orchestrator"
    );

    let router = router_o1(&t).await;
    let exec = executor(&router, &log);
    let report = exec.recover().await.expect("recover");
    assert_eq!(report.completed, 1, "{report:?}");
    let status = exec.status(id).await.expect("status");
    assert_eq!(status.state, SagaState::Completed);
    assert_eq!(
        debits.runs.load(Ordering::SeqCst),
        1,
        "the participant executed the step once"
    );
    assert_eq!(
        router.stats().accepted,
        1,
        "the waiting reply completed the step"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_deletes_the_reply_channel_and_a_crash_keeps_it() {
    let inproc = Arc::new(InProcTransport::new());
    let t: Arc<dyn Transport> = inproc.clone();
    let headers = command("debit", fresh_key(), 1, "1").headers;
    for (owner, clean) in [("o2", true), ("o3", false)] {
        let router =
            ReplyRouter::start(Arc::clone(&t), RouterConfig::default().with_owner_id(owner))
                .await
                .expect("router");
        let topic = router.reply_topic().to_owned();
        if clean {
            router.shutdown().await.expect("shutdown");
        } else {
            drop(router);
            let_aborted_tasks_go().await;
        }
        t.publish(&topic, ok_reply(&headers, "1"))
            .await
            .expect("publish");
        let kept = inproc.queued(&topic, &topic);
        if clean {
            assert_eq!(kept, 0, "a reply channel shut down keeps nothing");
        } else {
            assert_eq!(
                kept, 1,
                "a crashed orchestrator's channel keeps its replies"
            );
        }
    }
}
