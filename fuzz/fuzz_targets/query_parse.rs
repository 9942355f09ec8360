//! Feeds arbitrary bytes to the SDK's query string and urlencoded form
//! parsers (lenient and strict). They may not panic, what the lenient one
//! parses must encode and parse back the same, and a strict success must
//! agree with it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    app_sdk::__fuzz::query_parse(data);
});
