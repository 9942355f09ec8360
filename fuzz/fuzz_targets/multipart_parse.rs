//! Feeds arbitrary bytes to the SDK's streaming multipart parser as a body
//! with the boundary `b` (and its first line to the boundary parser). It may
//! not panic, reading the body whole or byte by byte must give the same
//! parts, and collecting a form must agree with them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    app_sdk::__fuzz::multipart_parse(data);
});
