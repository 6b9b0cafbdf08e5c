//! cargo-fuzz target `crm_csv`: see `switchboard_operators::fuzzing::crm_csv`
//! (the same entry replays `fuzz/seeds/crm_csv/` under `cargo test`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: switchboard_operators::fuzzing::ignore_guarded_panics(),
    |data: &[u8]| switchboard_operators::fuzzing::crm_csv(data));
