//! Feeds arbitrary bytes to every decoder of the daemon protocol (preface,
//! frame headers, every payload kind, and the stream as a sequence of frames
//! read by `FrameReader`). None may panic, and whatever decodes must encode
//! back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rustgi_contract::protocol::exercise_decoders(data);
});
