//! Parsing the stream replies (`XREADGROUP`, `XRANGE`-shaped lists, the claim script's answer) into
//! raw entries, without decoding any field.

use redis::Value;
use saga::transport::TransportError;

use super::entry::RawEntry;

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
