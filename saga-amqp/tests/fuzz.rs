//! The fuzz targets of this crate's decoders (`fuzz/`) as bounded proptests of arbitrary bytes, so
//! CI runs them on every change: no panic, nothing over the size limit decoded.
#![cfg(feature = "fuzzing")]

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn received_messages_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        saga_amqp::fuzzing::message(&data);
    }
}
