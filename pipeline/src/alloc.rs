//! The binary's memory allocator: mimalloc, tuned to return freed memory
//! at once.
//!
//! glibc malloc was about 30 % of all CPU of the topology (free-list
//! consolidation under many short-lived strings and Arrow buffers from
//! several threads); mimalloc cuts the CPU of `switchboard process` by
//! about a fifth. By default (v3) it keeps freed pages for a second before
//! giving them back to the OS: the resident set then overshot the memory
//! budget that the flow guard enforces while the output stalled. With a
//! purge delay of 0 freed pages go back at once, and the measured CPU
//! saving stays (docs/decisions.md, "Allocator").

/// mimalloc's `mi_option_purge_delay` (the option's position in the v3
/// `mi_option_e` enum; the test below checks it against its default in
/// mimalloc's `options.c`, 1,000 ms).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Purge freed memory immediately instead of after mimalloc's default
/// 1,000 ms. Call first thing in `main`.
pub fn tune() {
    // SAFETY: `mi_option_set` stores an integer option; any value is valid
    // for this option and it may be called at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_with_a_1000_ms_default() {
        // SAFETY: reading and setting integer options.
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            // Its neighbours have other defaults (eager-commit delay 1,
            // NUMA nodes 0), so an off-by-one index would fail above.
            tune();
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 0);
        }
    }
}
