//! Feeds arbitrary bytes to the SDK's session cookie decoders (signed and
//! encrypted), and, signed with the fuzzing key, to the expiry check and
//! JSON decoder behind them. None may panic, and a session that decodes must
//! survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    app_sdk::__fuzz::session_decode(data);
});
