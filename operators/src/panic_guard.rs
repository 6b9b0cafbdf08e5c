//! Running a decoder that may panic on corrupt input (arrow, parquet and
//! DataFusion panic on some malformed files instead of returning an error)
//! so that the panic becomes an error of the caller.
//!
//! While [`catch`] runs, [`catching`] is true on that thread, so that a
//! process-wide panic hook can tell an expected decoder panic (reported by
//! the caller as an error) from a crash.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`; a panic inside it is returned as `Err(message)`.
///
/// Only for code whose state is thrown away on failure (a decoder building
/// a fresh value): nothing `f` half-updated survives the call.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    out.map_err(|p| panic_message(p.as_ref()))
}

/// Whether the current thread is inside [`catch`].
pub fn catching() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// The text of a panic payload (`&str` or `String`), else a placeholder.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_the_flag_is_scoped() {
        assert!(!catching());
        let r: Result<(), String> = catch(|| {
            assert!(catching());
            panic!("Type <UNKNOWN 133> not supported")
        });
        assert_eq!(r.unwrap_err(), "Type <UNKNOWN 133> not supported");
        assert!(!catching());
        assert_eq!(catch(|| 7), Ok(7));
    }
}
