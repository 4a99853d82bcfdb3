//! Stream entries: a message as fields (its headers as [`Headers::to_pairs`] writes them, plus the
//! payload), and received entries measured, then decoded.

use bytes::Bytes;
use saga::transport::{Headers, Message, DEAD_LETTER_REASON};

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use saga::transport::MessageKind;

    use super::*;

    fn raw(message: &Message, extra: &[(&'static str, String)]) -> RawEntry {
        let fields = fields(message, extra)
            .into_iter()
            .map(|(n, v)| (n, v.to_vec()))
            .collect();
        RawEntry {
            id: "1-0".to_owned(),
            fields: Some(fields),
        }
    }

    #[test]
    fn a_message_survives_its_fields_and_is_measured_as_message_size() {
        let mut m = Message::new(MessageKind::Command, "{\"n\":1}");
        m.headers.name = Some(Arc::from("reserve"));
        m.headers.insert("x-custom", "v").expect("free-form");
        let size = m.size();
        let extra = [(F_GROUP, "g".to_owned()), (F_DELIVERIES, "4".to_owned())];
        match decode(&mut raw(&m, &extra), "g", size) {
            Decoded::Message { message, prior } => {
                assert_eq!(message, m);
                assert_eq!(prior, 4);
            }
            other => panic!("{other:?}"),
        }
        // One byte under the message's own size: refused, whatever the transport fields add.
        assert!(matches!(
            decode(&mut raw(&m, &extra), "g", size - 1),
            Decoded::Bad(reason) if reason.contains(&format!("message of {size} bytes"))
        ));
        // A requeue for another group is not for this one.
        assert!(matches!(
            decode(&mut raw(&m, &extra), "h", size),
            Decoded::Skip
        ));
    }

    #[test]
    fn dead_letter_fields_replace_earlier_records() {
        let m = Message::new(MessageKind::Event, "p");
        let once = dead_fields(fields(&m, &[]), "first", "g", "1-0");
        let twice = dead_fields(once, "second", "h", "2-0");
        let reasons: Vec<_> = twice
            .iter()
            .filter(|(n, _)| n.as_slice() == DEAD_LETTER_REASON.as_bytes())
            .collect();
        assert_eq!(reasons.len(), 1);
        assert_eq!(&reasons[0].1[..], b"second");
    }
}
