//! The fuzz targets of this crate's decoders (`fuzz/`) as bounded proptests of arbitrary bytes, so
//! CI runs them on every change: no panic, nothing over the size limit decoded.
#![cfg(feature = "fuzzing")]

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn stream_entries_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        saga_redis::fuzzing::stream_entry(&data);
    }

    #[test]
    fn log_records_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        saga_redis::fuzzing::log_record(&data);
    }

    #[test]
    fn well_formed_log_records_round_trip(seq in any::<u64>(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut element = b"1700000000000:\x01".to_vec();
        element.extend_from_slice(&seq.to_be_bytes());
        element.extend_from_slice(&body);
        saga_redis::fuzzing::log_record(&element);
    }
}
