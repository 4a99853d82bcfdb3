//! `create` and `append`: one script each, versioned and fenced.

use saga::log::{Append, ConflictKind, Lease, NewSaga};
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

/// Runs a write script of saga `id`; a key of the wrong type (damage from outside) is `Corrupt`.
async fn run(log: &Inner, id: SagaId, call: Call) -> Result<redis::Value, LogError> {
    match log.conn.run_one(call).await {
        Ok(value) => Ok(value),
        Err(e) if is_wrong_type(&e) => Err(corrupt(
            id,
            "a key of the saga holds the wrong kind of value",
        )),
        Err(e) => Err(log_error(e)),
    }
}

pub(super) async fn create(log: &Inner, saga: NewSaga) -> Result<Lease, LogError> {
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
    let call = Call::new(&SCRIPTS.create, keys)
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
        .arg(body);
    let reply = Reply::new(run(log, saga.id, call).await?)?;
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

pub(super) async fn append(log: &Inner, a: &Append<'_>) -> Result<u64, LogError> {
    let bodies = a
        .events
        .iter()
        .zip(a.expected_version.saturating_add(1)..)
        .map(|(event, seq)| codec::encode(seq, event).map_err(|_| too_large(a.id)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keys = match log.defs.get(a.id) {
        Some(def) => log.keys.saga(a.id, &def.name, def.version),
        None => vec![log.keys.inst(a.id), log.keys.rec(a.id)],
    };
    // At most two tries: the second one with the keys of the definition the script named.
    for _ in 0..2 {
        let mut call = Call::new(&SCRIPTS.append, keys)
            .arg(log.keys.base(log.keys.shard_of(a.id)))
            .arg(a.id.to_string())
            .arg(a.lease.fence.to_string())
            .arg(a.expected_version.to_string())
            .arg(a.state.as_str())
            .arg(millis(a.lease_ttl).to_string())
            .arg(log.retention_ms.to_string());
        for body in &bodies {
            call = call.arg(body);
        }
        let reply = Reply::new(run(log, a.id, call).await?)?;
        let conflict = |kind| {
            log.defs.forget(a.id);
            Err(LogError::conflict(
                a.id,
                kind,
                a.expected_version,
                reply.number(1),
            ))
        };
        match reply.status() {
            b"ok" => {
                let version = reply
                    .number(0)
                    .ok_or_else(|| protocol("append reply without a version"))?;
                log.conn.counters.appended();
                if releases(a.state) {
                    log.defs.forget(a.id);
                }
                return Ok(version);
            }
            b"need" => {
                let (Some(name), Some(version)) = (reply.text(0), reply.number(1)) else {
                    return Err(corrupt(a.id, "stored definition does not decode"));
                };
                let version =
                    u32::try_from(version).map_err(|_| corrupt(a.id, "definition version"))?;
                log.defs.remember(a.id, name, version);
                keys = log.keys.saga(a.id, name, version);
            }
            b"not_found" => {
                log.defs.forget(a.id);
                return Err(LogError::NotFound { saga_id: a.id });
            }
            b"conflict" => {
                return match reply.text(0) {
                    Some("lease_lost") => conflict(ConflictKind::LeaseLost),
                    Some("finished") => conflict(ConflictKind::Finished),
                    _ => conflict(ConflictKind::VersionMismatch),
                }
            }
            b"corrupt" => {
                return Err(corrupt(a.id, reply.text(0).unwrap_or("instance hash")));
            }
            _ => return Err(protocol("unexpected append reply")),
        }
    }
    Err(protocol("append: the script asked for its keys twice"))
}
