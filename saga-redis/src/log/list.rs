//! `list`, and the id-ordered merge of many index sets that claims share.
//!
//! Every index is a sorted set whose members all have score 0, so Redis orders them by their bytes;
//! a saga id's hyphenated lower-case text sorts exactly as [`SagaId`]'s `Ord` (the UUID's bytes), so
//! `ZRANGEBYLEX key (<after> + LIMIT 0 n` is keyset paging in id order. A query reads one set per
//! shard (and state) and merges them.

use saga::log::{ListQuery, SagaInstance};
use saga::{LogError, SagaId, SagaState};

use super::instance;
use super::reply;
use super::scripts::is_wrong_type;
use super::Inner;
use crate::error::{corrupt, log_error};

/// The most members one round of `list` reads from each set.
const MAX_PAGE: usize = 1024;

/// The `page` smallest members greater than `floor` across `sets` (byte order, no duplicates), and
/// whether that is every such member.
pub(super) async fn smallest(
    log: &Inner,
    sets: &[String],
    floor: Option<&[u8]>,
    page: usize,
) -> Result<(Vec<Vec<u8>>, bool), LogError> {
    let min = floor.map_or_else(|| b"-".to_vec(), |f| [b"(".as_slice(), f].concat());
    let cmds = sets
        .iter()
        .map(|set| {
            let mut cmd = redis::cmd("ZRANGEBYLEX");
            cmd.arg(set)
                .arg(&min)
                .arg("+")
                .arg("LIMIT")
                .arg(0)
                .arg(page);
            cmd
        })
        .collect();
    let replies = log.conn.commands(cmds).await.map_err(log_error)?;
    let mut members = Vec::new();
    let mut full = false;
    for result in replies {
        let got = reply::strings(result.map_err(log_error)?)?;
        full |= got.len() >= page;
        members.extend(got);
    }
    members.sort_unstable();
    members.dedup();
    let exhausted = !full && members.len() <= page;
    members.truncate(page);
    Ok((members, exhausted))
}

pub(super) async fn list(log: &Inner, query: &ListQuery) -> Result<Vec<SagaInstance>, LogError> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let mut states: Vec<SagaState> = Vec::new();
    for &s in if query.states.is_empty() {
        &SagaState::ALL[..]
    } else {
        &query.states[..]
    } {
        if !states.contains(&s) {
            states.push(s);
        }
    }
    let definition = query.definition.as_deref();
    let sets: Vec<String> = (0..log.keys.shards())
        .flat_map(|shard| states.iter().map(move |&s| (shard, s)))
        .map(|(shard, s)| log.keys.state(shard, s, definition))
        .collect();
    let page = query.limit.min(MAX_PAGE);
    let mut out = Vec::new();
    let mut floor: Option<Vec<u8>> = None;
    loop {
        let (members, exhausted) = smallest(log, &sets, floor.as_deref(), page).await?;
        let Some(last) = members.last().cloned() else {
            break;
        };
        let ids: Vec<SagaId> = members
            .iter()
            .filter_map(|m| std::str::from_utf8(m).ok()?.parse().ok())
            .collect();
        for inst in instances(log, &ids).await? {
            // A set entry of a saga that changed state since, or whose id was reused.
            let wanted =
                states.contains(&inst.state) && definition.is_none_or(|d| d == inst.definition);
            if wanted {
                out.push(inst);
            }
        }
        if out.len() >= query.limit || exhausted {
            break;
        }
        floor = Some(last);
    }
    out.truncate(query.limit);
    Ok(out)
}

/// The instances of `ids`, in order; sagas whose keys expired are left out.
async fn instances(log: &Inner, ids: &[SagaId]) -> Result<Vec<SagaInstance>, LogError> {
    let cmds = ids
        .iter()
        .map(|&id| {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(log.keys.inst(id));
            cmd
        })
        .collect();
    let replies = log.conn.commands(cmds).await.map_err(log_error)?;
    let mut out = Vec::with_capacity(ids.len());
    for (&id, result) in ids.iter().zip(replies) {
        let fields = match result {
            Ok(value) => reply::fields(value)?,
            Err(e) if is_wrong_type(&e) => {
                return Err(corrupt(
                    id,
                    "the instance key holds the wrong kind of value",
                ))
            }
            Err(e) => return Err(log_error(e)),
        };
        if !fields.is_empty() {
            out.push(instance::decode(id, &fields)?);
        }
    }
    Ok(out)
}
