#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saga::testing::fuzz::reply_failure(data));
