//! The RabbitMQ target (`--transport amqp://…`): orchestrated sagas whose S steps are remote commands
//! answered by S participants, executor and participants in this one process but talking only through
//! the broker ([`AmqpTransport`], quorum queues, confirms), over any `--log`.
//!
//! The raw baseline is a hand-written lapin loop sending the same messages per saga, with the same
//! headers, persistent, on quorum queues: per step a command published with a confirm, consumed by a
//! participant that publishes the reply with a confirm and acks, and the reply consumed and acked by
//! the orchestrator, which then sends the next step's command. No saga log, no deduplication, no
//! correlation checks: messages only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt as _;
use parking_lot::Mutex;
use saga::participant::{Participant, ReplyRouter, RouterConfig};
use saga::transport::{Headers, MessageKind};
use saga::{Direction, Executor, IdempotencyKey, SagaId, SagaLog, SagaState, StepError, Transport};
use saga_amqp::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use saga_amqp::lapin::types::{AMQPValue, FieldTable, ShortString};
use saga_amqp::lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use saga_amqp::{AmqpConfig, AmqpTransport};
use tokio::sync::oneshot;

use crate::runner::{drive, Args, Stats};

fn prefix() -> String {
    format!("lg{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// The library over RabbitMQ: returns its stats once every saga ended as expected.
pub async fn run_library(args: &Args, log: Arc<dyn SagaLog>) -> Result<Stats, String> {
    let config = AmqpConfig::default().with_prefix(prefix());
    let amqp = AmqpTransport::connect(&args.transport, config)
        .await
        .map_err(|e| e.to_string())?;
    let transport: Arc<dyn Transport> = Arc::new(amqp.clone());
    let mut participants = Vec::new();
    for i in 0..args.steps {
        let p = Participant::builder(format!("step{i}"), Arc::clone(&transport))
            .command("do", |_ctx, refuse: bool| async move {
                if refuse {
                    Err(StepError::permanent("loadgen failure"))
                } else {
                    Ok(())
                }
            })
            .command("undo", |_ctx, (): ()| async { Ok::<_, StepError>(()) })
            .spawn()
            .await
            .map_err(|e| e.to_string())?;
        participants.push(p);
    }
    let router = ReplyRouter::start(Arc::clone(&transport), RouterConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let fail_at = args.fail_at;
    let mut b = saga::SagaDefinition::<()>::builder("loadgen-amqp", 1);
    for i in 0..args.steps {
        let topic = format!("step{i}");
        let refuse = fail_at == Some(i + 1);
        b = b.compensatable(
            format!("step-{i}"),
            router.step(
                topic.clone(),
                "do",
                move |(): &()| refuse,
                |(): &mut (), (): ()| {},
            ),
            router.compensation(topic, "undo", |(): &()| ()),
        );
    }
    let exec = Executor::new(b.build().map_err(|e| e.to_string())?, log);
    let want = if fail_at.is_some() {
        SagaState::Compensated
    } else {
        SagaState::Completed
    };
    let stats = drive(args.sagas, args.concurrency, move |_| {
        let exec = exec.clone();
        async move {
            let outcome = exec.run(()).await.expect("saga runs");
            assert_eq!(outcome.state, want, "saga ended as expected");
        }
    })
    .await;
    let _ = router.shutdown().await;
    for p in participants {
        p.shutdown().await;
    }
    let _ = amqp.delete_declared().await;
    amqp.close().await;
    Ok(stats)
}

/// The headers a command of the library carries, as AMQP string headers (the same bytes on the wire).
fn headers(step: u32, reply: bool) -> FieldTable {
    let mut h = Headers::new(if reply {
        MessageKind::Reply
    } else {
        MessageKind::Command
    });
    h.name = Some(Arc::from("do"));
    h.set_idempotency_key(IdempotencyKey::new(SagaId::new(), step, Direction::Forward));
    h.attempt = Some(1);
    h.reply_to = Some(Arc::from(
        "saga.replies.0190a0b0-0000-7000-8000-000000000000",
    ));
    let mut table = FieldTable::default();
    for (k, v) in h.to_pairs() {
        table.insert(
            ShortString::from(k.into_owned()),
            AMQPValue::LongString(v.into()),
        );
    }
    table
}

fn properties(table: &FieldTable, corr: u64) -> BasicProperties {
    let mut t = table.clone();
    t.insert("corr".into(), AMQPValue::LongLongInt(corr as i64));
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(t)
}

fn corr_of(d: &saga_amqp::lapin::message::Delivery) -> Option<u64> {
    match d.properties.headers().as_ref()?.inner().get("corr")? {
        AMQPValue::LongLongInt(v) => Some(*v as u64),
        _ => None,
    }
}

async fn publish(ch: &Channel, queue: &str, payload: &[u8], props: BasicProperties) {
    let confirm = ch
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            payload,
            props,
        )
        .await
        .expect("raw publish");
    assert!(
        confirm.await.expect("raw confirm").is_ack(),
        "raw publish nacked"
    );
}

async fn consume(conn: &Connection, queue: &str) -> saga_amqp::lapin::Consumer {
    let ch = conn.create_channel().await.expect("raw channel");
    ch.basic_qos(64, BasicQosOptions { global: false })
        .await
        .expect("qos");
    ch.basic_consume(
        queue.into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("raw consume")
}

/// The raw lapin loop sending the same messages as [`run_library`].
pub async fn baseline(args: &Args) -> Result<Stats, String> {
    let conn = Connection::connect_with_runtime(
        &args.transport,
        ConnectionProperties::default(),
        async_rs::Runtime::tokio_current(),
    )
    .await
    .map_err(|e| saga_amqp::redact_url(&e.to_string()))?;
    let conn = Arc::new(conn);
    let p = prefix();
    let publisher = conn.create_channel().await.map_err(|e| e.to_string())?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut args_table = FieldTable::default();
    args_table.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let queues: Vec<String> = (0..args.steps)
        .map(|i| format!("{p}.raw.step{i}"))
        .collect();
    let replies = format!("{p}.raw.replies");
    for q in queues.iter().chain(std::iter::once(&replies)) {
        publisher
            .queue_declare(q.as_str().into(), durable, args_table.clone())
            .await
            .map_err(|e| e.to_string())?;
    }
    // Participants: consume, publish the reply (confirmed), ack; many deliveries at once.
    let reply_headers = headers(0, true);
    for q in &queues {
        let mut consumer = consume(&conn, q).await;
        let (ch, replies, table) = (publisher.clone(), replies.clone(), reply_headers.clone());
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let (ch, replies, table) = (ch.clone(), replies.clone(), table.clone());
                tokio::spawn(async move {
                    let corr = corr_of(&d).unwrap_or_default();
                    publish(&ch, &replies, b"null", properties(&table, corr)).await;
                    let _ = d.ack(BasicAckOptions::default()).await;
                });
            }
        });
    }
    // The orchestrator: replies resolve the waiting request by correlation.
    let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>> = Arc::default();
    let mut reply_consumer = consume(&conn, &replies).await;
    let routing = Arc::clone(&pending);
    tokio::spawn(async move {
        while let Some(Ok(d)) = reply_consumer.next().await {
            if let Some(tx) = corr_of(&d).and_then(|c| routing.lock().remove(&c)) {
                let _ = tx.send(());
            }
            let _ = d.ack(BasicAckOptions::default()).await;
        }
    });
    let command_headers = headers(0, false);
    let next = Arc::new(AtomicU64::new(0));
    let steps = args.steps;
    // Per saga: each step's command, and after a refusal at step k the k-1 compensations.
    let plan: Vec<usize> = match args.fail_at {
        None => (0..steps).collect(),
        Some(k) => (0..k).chain((0..k.saturating_sub(1)).rev()).collect(),
    };
    let plan = Arc::new(plan);
    let queues = Arc::new(queues);
    let stats = drive(args.sagas, args.concurrency, move |_| {
        let (ch, pending, next) = (publisher.clone(), Arc::clone(&pending), Arc::clone(&next));
        let (plan, queues, table) = (
            Arc::clone(&plan),
            Arc::clone(&queues),
            command_headers.clone(),
        );
        async move {
            for &step in plan.iter() {
                let corr = next.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = oneshot::channel();
                pending.lock().insert(corr, tx);
                publish(&ch, &queues[step], b"false", properties(&table, corr)).await;
                rx.await.expect("raw reply");
            }
        }
    })
    .await;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    for i in 0..steps {
        let _ = ch
            .queue_delete(
                format!("{p}.raw.step{i}").as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await;
    }
    let _ = ch
        .queue_delete(
            format!("{p}.raw.replies").as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await;
    let _ = conn.close(200, "OK".into()).await;
    Ok(stats)
}
