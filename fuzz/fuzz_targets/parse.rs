//! cargo-fuzz target `parse`: see `switchboard_operators::fuzzing::parse`
//! (the same entry replays `fuzz/seeds/parse/` under `cargo test`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: switchboard_operators::fuzzing::ignore_guarded_panics(),
    |data: &[u8]| switchboard_operators::fuzzing::parse(data));
