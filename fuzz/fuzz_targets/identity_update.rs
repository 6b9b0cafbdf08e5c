//! cargo-fuzz target `identity_update`: see `switchboard_operators::fuzzing::identity_update`
//! (the same entry replays `fuzz/seeds/identity_update/` under `cargo test`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: switchboard_operators::fuzzing::ignore_guarded_panics(),
    |data: &[u8]| switchboard_operators::fuzzing::identity_update(data));
