//! The raw redis-rs baseline of the Streams transport target: the same messages (headers as
//! `Headers::to_pairs` writes them, and the payload) with the same commands, and no saga logic. A
//! command carries what `RemoteStep` sends (name, idempotency key, attempt, reply-to, trace context),
//! a reply what the participant runtime sends (the request's name, saga id, step, direction and
//! attempt, correlation id, status, trace context).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::trace::TraceContext;
use saga::transport::{Headers, Message, MessageKind, ReplyStatus};
use saga::Direction;
use saga_redis::redis::{self, aio::ConnectionManager, Value};
use tokio::sync::oneshot;

use crate::runner::{drive, Args, Stats};

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<bool>>>>;

/// An entry's fields, by name.
type Fields = Vec<(String, Vec<u8>)>;

fn xadd(stream: &str, message: &Message) -> redis::Pipeline {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("NOMKSTREAM").arg("*");
    for (name, value) in message.headers.to_pairs() {
        cmd.arg(name.as_ref()).arg(value);
    }
    cmd.arg("saga-redis-payload").arg(&message.payload[..]);
    let mut pipe = redis::pipe();
    pipe.add_command(cmd).cmd("XLEN").arg(stream);
    pipe
}

/// `(entry id, fields)` of each entry of an `XREADGROUP` reply for one stream.
fn entries(v: Value) -> Vec<(String, Fields)> {
    let text = |v: Value| match v {
        Value::BulkString(b) => String::from_utf8(b).unwrap_or_default(),
        _ => String::new(),
    };
    let Value::Array(streams) = v else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in streams {
        let Value::Array(mut kv) = s else { continue };
        let Some(Value::Array(items)) = kv.pop() else {
            continue;
        };
        for item in items {
            let Value::Array(mut parts) = item else {
                continue;
            };
            let Some(Value::Array(flat)) = parts.pop() else {
                continue;
            };
            let id = parts.pop().map(text).unwrap_or_default();
            let mut fields = Vec::new();
            let mut flat = flat.into_iter();
            while let (Some(n), Some(Value::BulkString(v))) = (flat.next(), flat.next()) {
                fields.push((text(n), v));
            }
            out.push((id, fields));
        }
    }
    out
}

/// Reads `stream` as `group` on a blocking connection of its own and hands each entry to `each`.
fn reader<F, Fut>(
    client: &redis::Client,
    stream: String,
    group: &'static str,
    each: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(String, Fields) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let client = client.clone();
    tokio::spawn(async move {
        let config =
            redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(5)));
        let mut blocking = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("reader connection");
        loop {
            let reply: Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(group)
                .arg("c")
                .arg("COUNT")
                .arg(64)
                .arg("BLOCK")
                .arg(2000)
                .arg("STREAMS")
                .arg(&stream)
                .arg(">")
                .query_async(&mut blocking)
                .await
                .expect("xreadgroup");
            for (id, fields) in entries(reply) {
                tokio::spawn(each(id, fields));
            }
        }
    })
}

pub async fn baseline(
    args: &Args,
    client: &redis::Client,
    mut conn: ConnectionManager,
    prefix: &str,
) -> Stats {
    let (commands, replies) = (
        format!("{prefix}:raw:{{c}}:stream"),
        format!("{prefix}:raw:{{r}}:stream"),
    );
    for (stream, group) in [(&commands, "lg"), (&replies, "router")] {
        let _: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("$")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
    }
    let fail_at = args.fail_at;
    let (c2, r2, conn2) = (commands.clone(), replies.clone(), conn.clone());
    let participant = reader(client, commands.clone(), "lg", move |id, fields| {
        let (mut conn, commands, replies) = (conn2.clone(), c2.clone(), r2.clone());
        async move {
            // The reply carries what the participant runtime's does: the request's name, saga id,
            // step, direction and attempt, the correlation id, the status and a trace context.
            let text: Vec<(&str, &str)> = fields
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), std::str::from_utf8(v).ok()?)))
                .collect();
            let request = Headers::from_pairs(text).expect("command headers");
            let name = request.name.as_deref().unwrap_or_default();
            let refuse = fail_at.is_some_and(|k| name == format!("step-{k}"));
            let mut h = Headers::new(MessageKind::Reply);
            h.name.clone_from(&request.name);
            h.saga_id = request.saga_id;
            h.step = request.step;
            h.direction = request.direction;
            h.attempt = request.attempt;
            h.correlation_id = Some(request.message_id);
            h.status = Some(if refuse {
                ReplyStatus::Rejected
            } else {
                ReplyStatus::Ok
            });
            h.trace = request.trace.as_ref().map(TraceContext::child);
            let reply = Message::with_headers(h, "null");
            let (_, _): (Option<String>, u64) = xadd(&replies, &reply)
                .query_async(&mut conn)
                .await
                .expect("reply");
            let _: u64 = redis::cmd("XACK")
                .arg(&commands)
                .arg("lg")
                .arg(id)
                .query_async(&mut conn)
                .await
                .expect("ack");
        }
    });
    let waiters: Waiters = Arc::default();
    let (w2, r3, conn3) = (Arc::clone(&waiters), replies.clone(), conn.clone());
    let router = reader(client, replies.clone(), "router", move |id, fields| {
        let (mut conn, waiters, replies) = (conn3.clone(), Arc::clone(&w2), r3.clone());
        async move {
            let get = |n: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            };
            let ok = get("saga-status").as_deref() == Some("ok");
            if let Some(tx) = get("saga-correlation-id").and_then(|c| waiters.lock().remove(&c)) {
                let _ = tx.send(ok);
            }
            let _: u64 = redis::cmd("XACK")
                .arg(&replies)
                .arg("router")
                .arg(id)
                .query_async(&mut conn)
                .await
                .expect("ack");
        }
    });
    let steps = args.steps;
    let stats = drive(args.sagas, args.concurrency, move |_| {
        let (mut conn, waiters, commands) = (conn.clone(), Arc::clone(&waiters), commands.clone());
        async move {
            let saga = saga::SagaId::new();
            let mut send = async |step: usize, name: String, direction: Direction| -> bool {
                let mut h = Headers::new(MessageKind::Command);
                h.name = Some(Arc::from(name));
                h.set_idempotency_key(saga::IdempotencyKey::new(saga, step as u32, direction));
                h.attempt = Some(1);
                h.reply_to = Some(Arc::from("saga.replies.raw"));
                h.trace = Some(TraceContext::for_saga(saga).child());
                let (tx, rx) = oneshot::channel();
                waiters.lock().insert(h.message_id.to_string(), tx);
                let command = Message::with_headers(h, "null");
                let (_, _): (Option<String>, u64) = xadd(&commands, &command)
                    .query_async(&mut conn)
                    .await
                    .expect("command");
                rx.await.unwrap_or(false)
            };
            for i in 1..=steps {
                if !send(i - 1, format!("step-{i}"), Direction::Forward).await {
                    for j in (1..i).rev() {
                        send(j - 1, format!("undo-{j}"), Direction::Compensate).await;
                    }
                    break;
                }
            }
        }
    })
    .await;
    participant.abort();
    router.abort();
    stats
}
