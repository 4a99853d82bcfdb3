#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saga_redis::fuzzing::stream_entry(data));
