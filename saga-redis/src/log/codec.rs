//! The stored form of one record: `<at_ms>:` (decimal, written by the script from the server clock)
//! followed by a binary body written by the client.
//!
//! ```text
//! body = 0x01                      format
//!        seq        u64 BE
//!        kind_len   u8, kind       ASCII, LogEvent::kind()
//!        flags      u8             1 step, 2 attempt, 4 detail, 8 payload
//!        [step      u32 BE]
//!        [attempt   u32 BE]
//!        [detail    u32 BE length, UTF-8]
//!        [payload   u32 BE length, bytes]
//! ```
//!
//! Decoding checks every length and rejects trailing bytes, so a damaged record is reported as
//! corrupt rather than misread.

use bytes::Bytes;
use saga::log::{EventKind, EventParts, LogRecord, MalformedEvent};
use saga::LogEvent;

const FORMAT: u8 = 1;
const STEP: u8 = 1;
const ATTEMPT: u8 = 2;
const DETAIL: u8 = 4;
const PAYLOAD: u8 = 8;

/// Why a body could not be written: a field longer than the format allows (4 GiB).
#[derive(Debug)]
pub(crate) struct TooLarge;

/// The body of record `seq` holding `event`.
pub(crate) fn encode(seq: u64, event: &LogEvent) -> Result<Vec<u8>, TooLarge> {
    let p = event.to_parts();
    let detail_len = p.detail.as_ref().map_or(0, String::len);
    let payload_len = p.payload.as_ref().map_or(0, Bytes::len);
    let kind = p.kind.as_str();
    let mut out = Vec::with_capacity(28 + kind.len() + detail_len + payload_len);
    out.push(FORMAT);
    out.extend_from_slice(&seq.to_be_bytes());
    out.push(u8::try_from(kind.len()).map_err(|_| TooLarge)?);
    out.extend_from_slice(kind.as_bytes());
    let flags = [
        (p.step.is_some(), STEP),
        (p.attempt.is_some(), ATTEMPT),
        (p.detail.is_some(), DETAIL),
        (p.payload.is_some(), PAYLOAD),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |acc, (_, bit)| acc | bit);
    out.push(flags);
    for n in [p.step, p.attempt].into_iter().flatten() {
        out.extend_from_slice(&n.to_be_bytes());
    }
    for field in [
        p.detail.as_ref().map(String::as_bytes),
        p.payload.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        let len = u32::try_from(field.len()).map_err(|_| TooLarge)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    Ok(out)
}

/// A cursor over a stored element that fails with a reason instead of panicking.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!(
                "record truncated ({} bytes short)",
                n - self.rest.len()
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_be_bytes)
    }

    fn field(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.u32()?).map_err(|_| "field length".to_owned())?;
        self.take(len)
    }
}

/// Decodes a stored element (`<at_ms>:<body>`).
pub(crate) fn decode(element: &[u8]) -> Result<LogRecord, String> {
    let colon = element
        .iter()
        .take(21)
        .position(|&b| b == b':')
        .ok_or("record has no time")?;
    let at_ms = std::str::from_utf8(&element[..colon])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or("record time is not a number")?;
    let mut r = Reader {
        rest: &element[colon + 1..],
    };
    let [format] = r.array()?;
    if format != FORMAT {
        return Err(format!("unknown record format {format}"));
    }
    let seq = u64::from_be_bytes(r.array()?);
    let [kind_len] = r.array()?;
    let kind = std::str::from_utf8(r.take(usize::from(kind_len))?)
        .map_err(|_| "record kind is not UTF-8".to_owned())?;
    let [flags] = r.array()?;
    if flags & !(STEP | ATTEMPT | DETAIL | PAYLOAD) != 0 {
        return Err(format!("unknown record flags {flags:#x}"));
    }
    let step = (flags & STEP != 0).then(|| r.u32()).transpose()?;
    let attempt = (flags & ATTEMPT != 0).then(|| r.u32()).transpose()?;
    let detail = (flags & DETAIL != 0)
        .then(|| r.field())
        .transpose()?
        .map(|d| String::from_utf8(d.to_vec()).map_err(|_| "record detail is not UTF-8".to_owned()))
        .transpose()?;
    let payload = (flags & PAYLOAD != 0)
        .then(|| r.field())
        .transpose()?
        .map(Bytes::copy_from_slice);
    if !r.rest.is_empty() {
        return Err(format!("{} trailing bytes after the record", r.rest.len()));
    }
    let kind: EventKind = kind.parse().map_err(|e: MalformedEvent| e.to_string())?;
    let parts = EventParts::new(kind)
        .with_step(step)
        .with_attempt(attempt)
        .with_detail(detail)
        .with_payload(payload);
    let event = LogEvent::from_parts(parts).map_err(|e| e.to_string())?;
    Ok(LogRecord { seq, at_ms, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: u64, event: &LogEvent) -> Vec<u8> {
        let mut element = b"1700000000123:".to_vec();
        element.extend(encode(seq, event).expect("encodes"));
        element
    }

    #[test]
    fn records_round_trip() {
        let events = [
            LogEvent::Started {
                data: Bytes::from_static(b"\0\xff{}"),
            },
            LogEvent::StepRetrying {
                step: 3,
                attempt: u32::MAX,
                error: "接続: \"x\"".into(),
            },
            LogEvent::Completed,
        ];
        for (seq, event) in (1..).zip(&events) {
            let back = decode(&stored(seq, event)).expect("decodes");
            assert_eq!(
                (back.seq, back.at_ms, &back.event),
                (seq, 1_700_000_000_123, event)
            );
        }
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let good = stored(2, &LogEvent::Compensated);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
        assert!(decode(b"soon:\x01").is_err());
        let mut unknown = b"1:".to_vec();
        unknown.extend(encode(1, &LogEvent::Completed).expect("encodes"));
        let kind_at = 2 + 1 + 8 + 1;
        unknown[kind_at] = b'x';
        assert!(decode(&unknown).is_err(), "unknown kind");
    }
}
