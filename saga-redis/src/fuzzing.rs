//! Fuzz entry points for this crate's decoders (feature `fuzzing`; not a stable API): the `cargo fuzz`
//! targets `redis_entry` and `redis_log_record` in `fuzz/` and the bounded proptests in
//! `tests/fuzz.rs` call them.

use saga::testing::fuzz::FuzzInput;

use crate::log::codec;
use crate::transport::entry::{self, Decoded, RawEntry};

/// A stream entry from arbitrary bytes (a size limit, a group, fields): decoding never panics, and
/// nothing over the limit is ever decoded into a message.
///
/// # Panics
/// When that does not hold (the fuzzer's finding).
pub fn stream_entry(data: &[u8]) {
    let mut input = FuzzInput::new(data);
    let max_size = usize::from(input.u16());
    let group = String::from_utf8_lossy(input.short()).into_owned();
    let fields = input
        .pairs(4096)
        .into_iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect();
    let mut raw = RawEntry {
        id: "1-0".to_owned(),
        fields: Some(fields),
    };
    if let Decoded::Message { message, .. } = entry::decode(&mut raw, &group, max_size) {
        assert!(
            message.size() <= max_size,
            "a message over the limit was decoded"
        );
    }
}

/// A stored log record from arbitrary bytes: decoding never panics, and a record that decodes is
/// encoded back to a body that decodes to the same event.
///
/// # Panics
/// When that does not hold.
pub fn log_record(data: &[u8]) {
    let Ok(record) = codec::decode(data) else {
        return;
    };
    if let Ok(body) = codec::encode(record.seq, &record.event) {
        let mut element = format!("{}:", record.at_ms).into_bytes();
        element.extend_from_slice(&body);
        let back = codec::decode(&element).expect("an encoded record decodes");
        assert_eq!(back.event, record.event);
        assert_eq!(back.seq, record.seq);
    }
}
