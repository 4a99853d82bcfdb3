//! `create` and `append`: one script each, versioned and fenced.

use saga::log::{Append, ConflictKind, Lease, NewSaga, WriteOp, WriteResult};
use saga::{LogError, LogEvent, SagaId, SagaState};

use super::reply::Reply;
use super::scripts::{is_wrong_type, Call, SCRIPTS};
use super::{codec, millis, Inner};
use crate::error::{corrupt, log_error, protocol};

fn too_large(id: SagaId) -> LogError {
    LogError::Backend {
        backend: crate::error::BACKEND,
        message: format!("a record of saga {id} is larger than 4 GiB"),
        transient: false,
        source: None,
    }
}

/// Whether `state` releases the lease (and ends this log's interest in the saga).
fn releases(state: SagaState) -> bool {
    state.is_terminal() || state == SagaState::Stuck
}

/// The answer to a write script of saga `id`; a key of the wrong type (damage from outside) is
/// `Corrupt`.
fn answer(id: SagaId, value: redis::RedisResult<redis::Value>) -> Result<Reply, LogError> {
    match value {
        Ok(value) => Reply::new(value),
        Err(e) if is_wrong_type(&e) => Err(corrupt(
            id,
            "a key of the saga holds the wrong kind of value",
        )),
        Err(e) => Err(log_error(e)),
    }
}

fn create_call(log: &Inner, saga: &NewSaga) -> Result<Call, LogError> {
    let body = codec::encode(
        1,
        &LogEvent::Started {
            data: saga.data.clone(),
        },
    )
    .map_err(|_| too_large(saga.id))?;
    let keys = log
        .keys
        .saga(saga.id, &saga.definition, saga.definition_version);
    Ok(Call::new(&SCRIPTS.create, keys)
        .arg(saga.id.to_string())
        .arg(&saga.definition)
        .arg(saga.definition_version.to_string())
        .arg(&saga.owner)
        .arg(millis(saga.lease_ttl).to_string())
        .arg(
            saga.deadline_at_ms
                .map(|d| d.to_string())
                .unwrap_or_default(),
        )
        .arg(body))
}

fn create_done(
    log: &Inner,
    saga: &NewSaga,
    value: redis::RedisResult<redis::Value>,
) -> Result<Lease, LogError> {
    let reply = answer(saga.id, value)?;
    match reply.status() {
        b"ok" => {
            log.conn.counters.created();
            log.defs
                .remember(saga.id, &saga.definition, saga.definition_version);
            Ok(Lease { fence: 1 })
        }
        b"exists" => Err(LogError::conflict(
            saga.id,
            ConflictKind::AlreadyExists,
            0,
            None,
        )),
        b"corrupt" => Err(corrupt(saga.id, reply.text(0).unwrap_or("index key"))),
        _ => Err(protocol("unexpected create reply")),
    }
}

pub(super) async fn create(log: &Inner, saga: NewSaga) -> Result<Lease, LogError> {
    let call = create_call(log, &saga)?;
    create_done(log, &saga, log.conn.run_one(call).await)
}

/// An append's encoded records and the keys to try first (those of its definition if known).
fn append_parts(log: &Inner, a: &Append<'_>) -> Result<(Vec<Vec<u8>>, Vec<String>), LogError> {
    let bodies = a
        .events
        .iter()
        .zip(a.expected_version.saturating_add(1)..)
        .map(|(event, seq)| codec::encode(seq, event).map_err(|_| too_large(a.id)))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = match log.defs.get(a.id) {
        Some(def) => log.keys.saga(a.id, &def.name, def.version),
        None => vec![log.keys.inst(a.id), log.keys.rec(a.id)],
    };
    Ok((bodies, keys))
}

fn append_call(log: &Inner, a: &Append<'_>, keys: Vec<String>, bodies: &[Vec<u8>]) -> Call {
    let mut call = Call::new(&SCRIPTS.append, keys)
        .arg(log.keys.base(log.keys.shard_of(a.id)))
        .arg(a.id.to_string())
        .arg(a.lease.fence.to_string())
        .arg(a.expected_version.to_string())
        .arg(a.state.as_str())
        .arg(millis(a.lease_ttl).to_string())
        .arg(log.retention_ms.to_string());
    for body in bodies {
        call = call.arg(body);
    }
    call
}

/// What an append script answered: done (the new version or why not), or run me again with the keys
/// of the definition the script named.
enum Appended {
    Done(Result<u64, LogError>),
    Again(Vec<String>),
}

fn append_done(log: &Inner, a: &Append<'_>, value: redis::RedisResult<redis::Value>) -> Appended {
    let reply = match answer(a.id, value) {
        Ok(reply) => reply,
        Err(e) => return Appended::Done(Err(e)),
    };
    let conflict = |kind| {
        log.defs.forget(a.id);
        Err(LogError::conflict(
            a.id,
            kind,
            a.expected_version,
            reply.number(1),
        ))
    };
    Appended::Done(match reply.status() {
        b"ok" => match reply.number(0) {
            Some(version) => {
                log.conn.counters.appended();
                if releases(a.state) {
                    log.defs.forget(a.id);
                }
                Ok(version)
            }
            None => Err(protocol("append reply without a version")),
        },
        b"need" => {
            let (Some(name), Some(version)) = (reply.text(0), reply.number(1)) else {
                return Appended::Done(Err(corrupt(a.id, "stored definition does not decode")));
            };
            let Ok(version) = u32::try_from(version) else {
                return Appended::Done(Err(corrupt(a.id, "definition version")));
            };
            log.defs.remember(a.id, name, version);
            return Appended::Again(log.keys.saga(a.id, name, version));
        }
        b"not_found" => {
            log.defs.forget(a.id);
            Err(LogError::NotFound { saga_id: a.id })
        }
        b"conflict" => match reply.text(0) {
            Some("lease_lost") => conflict(ConflictKind::LeaseLost),
            Some("finished") => conflict(ConflictKind::Finished),
            _ => conflict(ConflictKind::VersionMismatch),
        },
        b"corrupt" => Err(corrupt(a.id, reply.text(0).unwrap_or("instance hash"))),
        _ => Err(protocol("unexpected append reply")),
    })
}

/// Sends an append with `keys`, and once more with the keys the script asks for.
async fn append_with(
    log: &Inner,
    a: &Append<'_>,
    mut keys: Vec<String>,
    bodies: &[Vec<u8>],
) -> Result<u64, LogError> {
    for _ in 0..2 {
        let value = log.conn.run_one(append_call(log, a, keys, bodies)).await;
        match append_done(log, a, value) {
            Appended::Done(r) => return r,
            Appended::Again(k) => keys = k,
        }
    }
    Err(protocol("append: the script asked for its keys twice"))
}

pub(super) async fn append(log: &Inner, a: &Append<'_>) -> Result<u64, LogError> {
    let (bodies, keys) = append_parts(log, a)?;
    append_with(log, a, keys, &bodies).await
}

/// Several writes as one pipeline (one round trip); each script is atomic and fenced on its own, so
/// each write has its own result. An append whose definition keys were not known is sent again on
/// its own with the keys its script named.
pub(super) async fn write_batch(log: &Inner, ops: Vec<WriteOp>) -> Vec<WriteResult> {
    let mut out: Vec<Option<WriteResult>> = Vec::with_capacity(ops.len());
    let mut calls = Vec::with_capacity(ops.len());
    let mut bodies = Vec::with_capacity(ops.len());
    for op in &ops {
        let call = match op {
            WriteOp::Create(s) => create_call(log, s),
            WriteOp::Append(a) => append_parts(log, &a.as_append()).map(|(b, keys)| {
                let call = append_call(log, &a.as_append(), keys, &b);
                bodies.push(b);
                call
            }),
        };
        match call {
            Ok(call) => {
                calls.push(call);
                out.push(None);
            }
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let values = match log.conn.run(&calls).await {
        Ok(values) => values,
        Err(e) => {
            let message = e.to_string();
            let transient = crate::error::is_transient(&e);
            return out
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Err(LogError::Backend {
                            backend: crate::error::BACKEND,
                            message: message.clone(),
                            transient,
                            source: None,
                        })
                    })
                })
                .collect();
        }
    };
    let mut values = values.into_iter();
    let mut bodies = bodies.into_iter();
    let mut results = Vec::with_capacity(ops.len());
    for (op, prepared) in ops.iter().zip(out) {
        if let Some(r) = prepared {
            results.push(r);
            continue;
        }
        let value = values.next().unwrap_or(Ok(redis::Value::Nil));
        results.push(match op {
            WriteOp::Create(s) => create_done(log, s, value).map(|l| l.fence),
            WriteOp::Append(a) => {
                let b = bodies.next().unwrap_or_default();
                match append_done(log, &a.as_append(), value) {
                    Appended::Done(r) => r,
                    Appended::Again(keys) => append_with(log, &a.as_append(), keys, &b).await,
                }
            }
        });
    }
    results
}
