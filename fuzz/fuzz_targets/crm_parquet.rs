//! cargo-fuzz target `crm_parquet`: see `switchboard_operators::fuzzing::crm_parquet`
//! (the same entry replays `fuzz/seeds/crm_parquet/` under `cargo test`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: switchboard_operators::fuzzing::ignore_guarded_panics(),
    |data: &[u8]| switchboard_operators::fuzzing::crm_parquet(data));
