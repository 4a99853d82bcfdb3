//! The core fuzz targets (`fuzz/`) as bounded proptests of arbitrary bytes, so CI runs them on every
//! change: message headers, `traceparent`, failure-reply bodies, log events and ids never panic, and
//! what decodes round-trips.

use proptest::prelude::*;
use saga::testing::fuzz;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn headers_never_panic(data in bytes(4096)) {
        fuzz::headers(&data);
    }

    #[test]
    fn traceparents_never_panic(data in bytes(128)) {
        fuzz::traceparent(&data);
    }

    #[test]
    fn well_formed_traceparents_round_trip(trace in "[0-9a-f]{32}", span in "[0-9a-f]{16}", flags in "[0-9a-f]{2}") {
        fuzz::traceparent(format!("00-{trace}-{span}-{flags}").as_bytes());
    }

    #[test]
    fn failure_replies_never_panic(data in bytes(2048)) {
        fuzz::reply_failure(&data);
    }

    #[test]
    fn log_events_never_panic(data in bytes(1024)) {
        fuzz::log_event(&data);
    }

    #[test]
    fn ids_never_panic(data in bytes(96)) {
        fuzz::ids(&data);
    }
}
