#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| saga_amqp::fuzzing::message(data));
