//! Poison messages in a running system: an event whose handler always fails is redelivered (with the
//! participant's retry delay, through the delay levels) until the participant's delivery limit, then
//! dead-lettered with its reason; a command whose payload cannot decode is dead-lettered at once; and
//! sagas keep completing meanwhile.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::sagas::{self, Job, Ledger};
use saga::participant::{
    IdempotencyStore, InMemoryIdempotencyStore, Participant, ParticipantConfig, ReplyRouter,
    RouterConfig,
};
use saga::transport::{dead_letter_topic, Delivery, Headers, Message, MessageKind, Subscription};
use saga::{Direction, Executor, IdempotencyKey, InMemoryLog, RetryPolicy, SagaId, StepError};
use saga::{SagaState, Transport};

async fn recv(sub: &mut Box<dyn Subscription>, what: &str) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Some(Ok(d))) => d,
        other => panic!("{what}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_is_dead_lettered_while_sagas_keep_flowing() {
    let Some(t) = common::transport(common::config()).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let transport: Arc<dyn Transport> = Arc::new(t.clone());
        let mut bad_events = t
            .subscribe(&dead_letter_topic("orders"), "ops", Default::default())
            .await
            .expect("dead-letter subscription");
        let mut bad_commands = t
            .subscribe(&dead_letter_topic("step0"), "ops", Default::default())
            .await
            .expect("dead-letter subscription");
        let attempts = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&attempts);
        let config = ParticipantConfig::default()
            .with_max_deliveries(3)
            .with_retry_delay(Duration::from_millis(20));
        let auditor = Participant::builder("auditor", Arc::clone(&transport))
            .with_config(config)
            .event("orders", move |_ctx, kind: String| {
                let seen = Arc::clone(&seen);
                async move {
                    if kind == "poison" {
                        seen.fetch_add(1, Ordering::Relaxed);
                        return Err(StepError::transient("the audit store is down"));
                    }
                    Ok(())
                }
            })
            .spawn()
            .await
            .expect("auditor");
        let ledger = Arc::new(Ledger::default());
        let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
        let steps = 3;
        let config = ParticipantConfig::default();
        let parts =
            sagas::participants(&transport, steps, &ledger, &store, &config, Duration::ZERO).await;
        let router = ReplyRouter::start(
            Arc::clone(&transport),
            RouterConfig::default().with_owner_id(format!("poison-{}", t.config().prefix())),
        )
        .await
        .expect("router");
        let executor = Executor::new(
            sagas::definition(&router, steps, RetryPolicy::default()),
            Arc::new(InMemoryLog::new()),
        );

        let poison = Message::new(MessageKind::Event, Bytes::from_static(b"\"poison\""));
        let poison_id = poison.headers.message_id;
        transport.publish("orders", poison).await.expect("publish");
        let mut h = Headers::new(MessageKind::Command);
        h.name = Some(Arc::from("do"));
        h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), 0, Direction::Forward));
        h.attempt = Some(1);
        h.reply_to = Some(Arc::from("nobody"));
        let garbage = Message::with_headers(h, Bytes::from_static(b"not json"));
        let garbage_id = garbage.headers.message_id;
        transport.publish("step0", garbage).await.expect("publish");

        let mut runs = Vec::new();
        for _ in 0..30 {
            let executor = executor.clone();
            runs.push(tokio::spawn(async move {
                let id = SagaId::new();
                let outcome = executor
                    .run_with_id(id, Job::default())
                    .await
                    .expect("runs");
                (id, outcome.state, None)
            }));
        }
        let mut outcomes = Vec::new();
        for run in runs {
            outcomes.push(run.await.expect("task"));
        }
        sagas::check(&ledger, steps, &outcomes);
        assert!(outcomes.iter().all(|(_, s, _)| *s == SagaState::Completed));

        let dl = recv(&mut bad_events, "the poison event's dead letter").await;
        assert_eq!(dl.message().headers.message_id, poison_id);
        assert_eq!(
            dl.message().headers.dead_letter_reason(),
            Some("delivered 4 times")
        );
        assert_eq!(
            attempts.load(Ordering::Relaxed),
            3,
            "handled exactly max_deliveries times"
        );
        dl.ack().await.expect("ack");
        let dl = recv(&mut bad_commands, "the undecodable command's dead letter").await;
        assert_eq!(dl.message().headers.message_id, garbage_id);
        let reason = dl
            .message()
            .headers
            .dead_letter_reason()
            .unwrap_or_default();
        assert!(reason.starts_with("malformed command \"do\""), "{reason}");
        dl.ack().await.expect("ack");

        router.shutdown().await.expect("reply channel deleted");
        auditor.shutdown().await;
        for p in parts {
            p.shutdown().await;
        }
    })
    .await;
}
