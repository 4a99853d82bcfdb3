//! Reading the scripts' and commands' replies (`redis::Value`) without trusting their shape.

use redis::Value;
use saga::LogError;

use super::instance::Fields;
use crate::error::protocol;

/// A script's reply: `{status, values...}`.
pub(crate) struct Reply {
    parts: Vec<Value>,
}

impl Reply {
    /// Splits an array reply.
    pub(crate) fn new(value: Value) -> Result<Self, LogError> {
        match value {
            Value::Array(parts) if !parts.is_empty() => Ok(Self { parts }),
            other => Err(protocol(format!(
                "unexpected script reply {}",
                kind_of(&other)
            ))),
        }
    }

    /// The status word (`ok`, `exists`, `conflict`, ...).
    pub(crate) fn status(&self) -> &[u8] {
        self.parts.first().and_then(bytes).unwrap_or_default()
    }

    /// The `i`-th value after the status, as text.
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        self.parts
            .get(i + 1)
            .and_then(bytes)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The `i`-th value after the status, as a number.
    pub(crate) fn number(&self, i: usize) -> Option<u64> {
        match self.parts.get(i + 1)? {
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => self.text(i)?.parse().ok(),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "integer",
        Value::BulkString(_) | Value::SimpleString(_) | Value::Okay => "string",
        Value::Array(_) => "array",
        _ => "value",
    }
}

/// The bytes of a string value.
pub(crate) fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// An array of strings (`ZRANGEBYLEX`, `LRANGE`); anything else is a protocol error.
pub(crate) fn strings(value: Value) -> Result<Vec<Vec<u8>>, LogError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::BulkString(b) => Ok(b),
                Value::SimpleString(s) => Ok(s.into_bytes()),
                other => Err(protocol(format!(
                    "expected a string, got {}",
                    kind_of(&other)
                ))),
            })
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(protocol(format!(
            "expected an array, got {}",
            kind_of(&other)
        ))),
    }
}

/// A hash as `HGETALL` returns it: a flat array (RESP2) or a map (RESP3).
pub(crate) fn fields(value: Value) -> Result<Fields, LogError> {
    if let Value::Map(pairs) = value {
        return pairs
            .into_iter()
            .map(|(k, v)| {
                let one = |x: Value| strings(Value::Array(vec![x])).map(|mut s| s.remove(0));
                Ok((one(k)?, one(v)?))
            })
            .collect();
    }
    let flat = strings(value)?;
    if flat.len() % 2 != 0 {
        return Err(protocol("a hash reply with an odd number of items"));
    }
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// A saga as the peek script read it: its instance hash and its stored records.
pub(crate) type Peeked = (Fields, Vec<Vec<u8>>);

/// A saga read by the peek script: `None` when absent (or not claimable).
pub(crate) fn peeked(value: Value) -> Result<Option<Peeked>, LogError> {
    match value {
        Value::Array(parts) if parts.is_empty() => Ok(None),
        Value::Array(parts) if parts.len() == 2 => {
            let mut parts = parts.into_iter();
            let (Some(hash), Some(records)) = (parts.next(), parts.next()) else {
                return Err(protocol("peek reply"));
            };
            Ok(Some((fields(hash)?, strings(records)?)))
        }
        Value::Nil => Ok(None),
        other => Err(protocol(format!(
            "unexpected peek reply {}",
            kind_of(&other)
        ))),
    }
}
