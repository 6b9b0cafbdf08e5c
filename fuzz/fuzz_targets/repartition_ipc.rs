//! cargo-fuzz target `repartition_ipc`: see `switchboard_operators::fuzzing::repartition_ipc`
//! (the same entry replays `fuzz/seeds/repartition_ipc/` under `cargo test`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: switchboard_operators::fuzzing::ignore_guarded_panics(),
    |data: &[u8]| switchboard_operators::fuzzing::repartition_ipc(data));
