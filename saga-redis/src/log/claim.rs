//! `load` and `claim`: a peek script reads a saga atomically; a claim script takes its lease only if
//! it is unchanged since the peek and still claimable, so a saga that does not decode is reported and
//! never leased, and two claimants never take the same saga.

use saga::log::{ClaimBatch, ClaimRequest, ClaimTarget, Claimed, CorruptSaga, Lease, SagaSnapshot};
use saga::{LogError, SagaId};

use super::instance::{self, Fields};
use super::reply::{self, Reply};
use super::scripts::{is_wrong_type, Call, SCRIPTS};
use super::{millis, Inner};
use crate::error::{corrupt, log_error, BACKEND};

/// The most candidates one round of a claim reads and takes.
const MAX_PAGE: usize = 1024;

const WRONG_TYPE: &str = "a key of the saga holds the wrong kind of value";

/// What a claim takes: the mode string its scripts understand.
#[derive(Clone, Copy)]
enum Mode {
    Recoverable,
    One,
}

impl Mode {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Recoverable => "recoverable",
            Self::One => "one",
        }
    }
}

pub(super) async fn load(log: &Inner, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
    let call = Call::new(&SCRIPTS.peek, vec![log.keys.inst(id), log.keys.rec(id)]);
    let value = match log.conn.run_one(call).await {
        Ok(value) => value,
        Err(e) if is_wrong_type(&e) => return Err(corrupt(id, WRONG_TYPE)),
        Err(e) => return Err(log_error(e)),
    };
    let Some((fields, records)) = reply::peeked(value)? else {
        return Ok(None);
    };
    let snapshot = instance::snapshot(id, &fields, &records)?;
    let inst = &snapshot.instance;
    if !inst.state.is_terminal() {
        log.defs
            .remember(id, &inst.definition, inst.definition_version);
    }
    Ok(Some(snapshot))
}

pub(super) async fn claim(log: &Inner, claim: &ClaimRequest) -> Result<ClaimBatch, LogError> {
    match claim.target {
        ClaimTarget::Recoverable { limit, after } => recoverable(log, claim, limit, after).await,
        ClaimTarget::One(id) => take(log, claim, Mode::One, &[id]).await,
        other => Err(LogError::Unsupported {
            backend: BACKEND,
            operation: format!("claim target {other:?}"),
        }),
    }
}

/// Pages through the definition's recoverable indexes (one per shard, members in id order) until a
/// page yields a claimed or corrupt saga, or the indexes are exhausted.
async fn recoverable(
    log: &Inner,
    claim: &ClaimRequest,
    limit: usize,
    after: Option<SagaId>,
) -> Result<ClaimBatch, LogError> {
    let page = limit.min(MAX_PAGE);
    if page == 0 {
        return Ok(ClaimBatch::default());
    }
    let indexes: Vec<String> = (0..log.keys.shards())
        .map(|shard| {
            log.keys
                .recoverable(shard, &claim.definition, claim.definition_version)
        })
        .collect();
    let mut floor = after.map(|id| id.to_string().into_bytes());
    loop {
        let (members, exhausted) =
            super::list::smallest(log, &indexes, floor.as_deref(), page).await?;
        let Some(last) = members.last().cloned() else {
            return Ok(ClaimBatch::default());
        };
        let ids: Vec<SagaId> = members
            .iter()
            .filter_map(|m| {
                let id = std::str::from_utf8(m).ok().and_then(|s| s.parse().ok());
                if id.is_none() {
                    tracing::warn!(
                        prefix = log.keys.prefix(),
                        "recoverable index holds a member that is not a saga id"
                    );
                }
                id
            })
            .collect();
        let batch = take(log, claim, Mode::Recoverable, &ids).await?;
        if !batch.is_empty() || exhausted {
            return Ok(batch);
        }
        floor = Some(last);
    }
}

/// Whether the stored definition is readable and another than the claim's (not a candidate at all).
fn other_definition(fields: &Fields, claim: &ClaimRequest) -> bool {
    let readable =
        fields.iter().any(|(k, _)| k == b"def") && fields.iter().any(|(k, _)| k == b"dver");
    readable && !instance::is_definition(fields, &claim.definition, claim.definition_version)
}

/// Peeks at every candidate, reports the ones that do not decode, and takes the others' leases.
async fn take(
    log: &Inner,
    claim: &ClaimRequest,
    mode: Mode,
    ids: &[SagaId],
) -> Result<ClaimBatch, LogError> {
    let peeks: Vec<Call> = ids
        .iter()
        .map(|&id| {
            Call::new(&SCRIPTS.peek, vec![log.keys.inst(id), log.keys.rec(id)])
                .arg(mode.as_str())
                .arg(&claim.owner)
        })
        .collect();
    let mut corrupt_sagas = Vec::new();
    let mut candidates: Vec<SagaSnapshot> = Vec::new();
    let results = log.conn.run(&peeks).await.map_err(log_error)?;
    for (&id, result) in ids.iter().zip(results) {
        let value = match result {
            Ok(value) => value,
            Err(e) if is_wrong_type(&e) => {
                corrupt_sagas.push(CorruptSaga::new(id, WRONG_TYPE));
                continue;
            }
            Err(e) => return Err(log_error(e)),
        };
        let Some((fields, records)) = reply::peeked(value)? else {
            continue;
        };
        if other_definition(&fields, claim) {
            continue;
        }
        match instance::snapshot(id, &fields, &records) {
            Ok(snapshot) => candidates.push(snapshot),
            Err(LogError::Corrupt { message, .. }) => {
                corrupt_sagas.push(CorruptSaga::new(id, message))
            }
            Err(e) => return Err(e),
        }
    }
    let claimed = lease(log, claim, mode, candidates, &mut corrupt_sagas).await?;
    log.conn.counters.claimed(claimed.len());
    Ok(ClaimBatch::new(claimed, corrupt_sagas))
}

/// Runs the claim script for every decoded candidate; returns the ones taken, in id order.
async fn lease(
    log: &Inner,
    claim: &ClaimRequest,
    mode: Mode,
    candidates: Vec<SagaSnapshot>,
    corrupt_sagas: &mut Vec<CorruptSaga>,
) -> Result<Vec<Claimed>, LogError> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let calls: Vec<Call> = candidates
        .iter()
        .map(|s| {
            let id = s.instance.id;
            let index = log.keys.recoverable(
                log.keys.shard_of(id),
                &claim.definition,
                claim.definition_version,
            );
            Call::new(&SCRIPTS.claim, vec![log.keys.inst(id), index])
                .arg(id.to_string())
                .arg(mode.as_str())
                .arg(&claim.owner)
                .arg(&claim.definition)
                .arg(claim.definition_version.to_string())
                .arg(millis(claim.lease_ttl).to_string())
                .arg(s.instance.version.to_string())
        })
        .collect();
    let results = log.conn.run(&calls).await.map_err(log_error)?;
    let mut claimed = Vec::new();
    for (mut snapshot, result) in candidates.into_iter().zip(results) {
        let id = snapshot.instance.id;
        let reply = match result {
            Ok(value) => Reply::new(value)?,
            Err(e) if is_wrong_type(&e) => {
                corrupt_sagas.push(CorruptSaga::new(id, WRONG_TYPE));
                continue;
            }
            Err(e) => return Err(log_error(e)),
        };
        match reply.status() {
            b"ok" => {
                let fence = reply
                    .number(0)
                    .ok_or_else(|| crate::error::protocol("claim reply without a fence"))?;
                snapshot.instance.owner = Some(claim.owner.clone());
                snapshot.instance.fence = fence;
                log.defs
                    .remember(id, &claim.definition, claim.definition_version);
                claimed.push(Claimed {
                    snapshot,
                    lease: Lease { fence },
                });
            }
            b"corrupt" => corrupt_sagas.push(CorruptSaga::new(id, "instance hash does not decode")),
            // Gone, taken by another claimant, changed since the peek, or no longer claimable.
            _ => {}
        }
    }
    Ok(claimed)
}
