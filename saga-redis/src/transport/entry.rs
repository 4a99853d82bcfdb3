//! Stream entries: a message as fields (its headers as [`Headers::to_pairs`] writes them, plus the
//! payload), and received entries measured, then decoded.

use bytes::Bytes;
use redis::Value;
use saga::transport::{Headers, Message, TransportError, DEAD_LETTER_REASON};

/// The payload's field. Names starting with `saga-` cannot be free-form headers, and core's names never
/// start with `saga-redis-`.
pub(crate) const F_PAYLOAD: &str = "saga-redis-payload";
/// On an entry added again by a requeue: the only group that receives it (others acknowledge it unread).
pub(crate) const F_GROUP: &str = "saga-redis-group";
/// On an entry added again by a requeue: how often the message had been delivered before.
pub(crate) const F_DELIVERIES: &str = "saga-redis-deliveries";
/// On a dead letter: the group that gave up on it.
pub(crate) const F_DEAD_GROUP: &str = "saga-redis-dead-group";
/// On a dead letter: its entry id in the topic's stream.
pub(crate) const F_DEAD_ID: &str = "saga-redis-dead-id";
/// The most headers a message may have: a requeue passes every field to a script, whose stack holds
/// about 8,000 values.
pub(crate) const MAX_HEADERS: usize = 3_000;
/// The longest group name carried in [`F_GROUP`].
const MAX_GROUP_LEN: usize = 1024;

/// The fields of `message`: headers, then the payload, then `extra` transport fields.
pub(crate) fn fields(message: &Message, extra: &[(&'static str, String)]) -> Vec<(Vec<u8>, Bytes)> {
    let pairs = message.headers.to_pairs();
    let mut out = Vec::with_capacity(pairs.len() + 1 + extra.len());
    for (name, value) in pairs {
        out.push((name.as_bytes().to_vec(), Bytes::from(value)));
    }
    out.push((F_PAYLOAD.as_bytes().to_vec(), message.payload.clone()));
    for (name, value) in extra {
        out.push((name.as_bytes().to_vec(), Bytes::from(value.clone())));
    }
    out
}

/// An entry as read: its id and fields (`None` for an entry deleted while it was pending).
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub(crate) id: String,
    pub(crate) fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// What a received entry is for this group.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A message, and how often it had been delivered before this entry was added.
    Message { message: Message, prior: u32 },
    /// Not for this group (a requeue for another group), or deleted: acknowledge it unread.
    Skip,
    /// Oversized or undecodable: dead-letter the raw fields with this reason.
    Bad(String),
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// Measures `entry` (headers and payload, as `Message::size` counts them) before decoding anything,
/// then decodes it. The fields stay in `entry` unless a message was made of them.
pub(crate) fn decode(entry: &mut RawEntry, group: &str, max_size: usize) -> Decoded {
    let Some(fields) = entry.fields.as_mut() else {
        return Decoded::Skip;
    };
    let (mut size, mut payload, mut prior) = (0usize, None, 0u32);
    for (i, (name, value)) in fields.iter().enumerate() {
        match name.as_slice() {
            n if n == F_PAYLOAD.as_bytes() => {
                size = size.saturating_add(value.len());
                payload = Some(i);
            }
            n if n == F_GROUP.as_bytes() => {
                if value.len() > MAX_GROUP_LEN {
                    return Decoded::Bad(format!("{F_GROUP} longer than {MAX_GROUP_LEN} bytes"));
                }
                if value.as_slice() != group.as_bytes() {
                    return Decoded::Skip;
                }
            }
            n if n == F_DELIVERIES.as_bytes() => match text(value).and_then(|v| v.parse().ok()) {
                Some(n) => prior = n,
                None => return Decoded::Bad(format!("{F_DELIVERIES} is not a number")),
            },
            n if n.starts_with(b"saga-redis-") => {}
            _ => size = size.saturating_add(name.len() + value.len()),
        }
    }
    if size > max_size {
        return Decoded::Bad(format!(
            "message of {size} bytes exceeds the limit of {max_size} bytes"
        ));
    }
    let Some(payload) = payload else {
        return Decoded::Bad(format!("entry without a {F_PAYLOAD} field"));
    };
    let mut pairs = Vec::with_capacity(fields.len());
    for (name, value) in fields.iter() {
        if name.starts_with(b"saga-redis-") {
            continue;
        }
        match (text(name), text(value)) {
            (Some(n), Some(v)) => pairs.push((n, v)),
            _ => return Decoded::Bad("a header is not UTF-8".to_owned()),
        }
    }
    let headers = match Headers::from_pairs(pairs) {
        Ok(h) => h,
        Err(e) => return Decoded::Bad(e.to_string()),
    };
    let payload = Bytes::from(std::mem::take(&mut fields[payload].1));
    entry.fields = None;
    Decoded::Message {
        message: Message::with_headers(headers, payload),
        prior,
    }
}

/// The raw fields of a dead letter: `fields` without an earlier reason or dead-letter record, plus
/// the reason, the group and the entry id.
pub(crate) fn dead_fields(
    fields: Vec<(Vec<u8>, Bytes)>,
    reason: &str,
    group: &str,
    id: &str,
) -> Vec<(Vec<u8>, Bytes)> {
    let replaced = [
        DEAD_LETTER_REASON.as_bytes(),
        F_DEAD_GROUP.as_bytes(),
        F_DEAD_ID.as_bytes(),
        F_GROUP.as_bytes(),
        F_DELIVERIES.as_bytes(),
    ];
    let mut out: Vec<(Vec<u8>, Bytes)> = fields
        .into_iter()
        .filter(|(n, _)| !replaced.contains(&n.as_slice()))
        .collect();
    for (name, value) in [
        (DEAD_LETTER_REASON, reason),
        (F_DEAD_GROUP, group),
        (F_DEAD_ID, id),
    ] {
        out.push((
            name.as_bytes().to_vec(),
            Bytes::copy_from_slice(value.as_bytes()),
        ));
    }
    out
}

fn bytes(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

/// Parses `[[id, [f1, v1, …]], …]` (an `XRANGE`-shaped list of entries).
pub(crate) fn parse_entries(v: Value) -> Result<Vec<RawEntry>, &'static str> {
    let Value::Array(items) = v else {
        return match v {
            Value::Nil => Ok(Vec::new()),
            _ => Err("entries are not an array"),
        };
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err("an entry is not an array");
        };
        let mut parts = parts.into_iter();
        let id = parts
            .next()
            .and_then(bytes)
            .and_then(|b| String::from_utf8(b).ok());
        let Some(id) = id else {
            return Err("an entry has no id");
        };
        let fields = match parts.next() {
            Some(Value::Array(flat)) => {
                let mut pairs = Vec::with_capacity(flat.len() / 2);
                let mut flat = flat.into_iter();
                while let (Some(n), Some(v)) = (flat.next(), flat.next()) {
                    match (bytes(n), bytes(v)) {
                        (Some(n), Some(v)) => pairs.push((n, v)),
                        _ => return Err("a field is not a string"),
                    }
                }
                Some(pairs)
            }
            Some(Value::Map(map)) => {
                let mut pairs = Vec::with_capacity(map.len());
                for (n, v) in map {
                    match (bytes(n), bytes(v)) {
                        (Some(n), Some(v)) => pairs.push((n, v)),
                        _ => return Err("a field is not a string"),
                    }
                }
                Some(pairs)
            }
            _ => None,
        };
        out.push(RawEntry { id, fields });
    }
    Ok(out)
}

/// Parses an `XREADGROUP` reply for one stream: nil (timeout), `[[key, entries]]` or `{key: entries}`.
pub(crate) fn parse_read(v: Value) -> Result<Vec<RawEntry>, &'static str> {
    let streams = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|s| match s {
                Value::Array(kv) => kv.into_iter().nth(1).ok_or("a stream without entries"),
                _ => Err("a stream reply is not an array"),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(map) => map.into_iter().map(|(_, v)| v).collect(),
        _ => return Err("unexpected XREADGROUP reply"),
    };
    let mut out = Vec::new();
    for entries in streams {
        out.extend(parse_entries(entries)?);
    }
    Ok(out)
}

/// Parses the claim script's `{next, entries, deleted, counts}`.
pub(crate) fn parse_claim(
    v: Value,
) -> Result<(String, Vec<RawEntry>, usize, Vec<u32>), TransportError> {
    let bad = || TransportError::malformed("unexpected claim reply");
    if matches!(v, Value::Nil) {
        return Ok(("0-0".to_owned(), Vec::new(), 0, Vec::new()));
    }
    let Value::Array(parts) = v else {
        return Err(bad());
    };
    let mut parts = parts.into_iter();
    let next = match parts.next() {
        Some(Value::BulkString(b)) => String::from_utf8(b).map_err(|_| bad())?,
        Some(Value::SimpleString(s)) => s,
        _ => return Err(bad()),
    };
    let entries = parse_entries(parts.next().unwrap_or(Value::Nil)).map_err(|_| bad())?;
    let deleted = match parts.next() {
        Some(Value::Array(d)) => d.len(),
        _ => 0,
    };
    let counts = match parts.next() {
        Some(Value::Array(c)) => c
            .into_iter()
            .map(|n| match n {
                Value::Int(n) => u32::try_from(n).unwrap_or(u32::MAX),
                _ => 1,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok((next, entries, deleted, counts))
}
