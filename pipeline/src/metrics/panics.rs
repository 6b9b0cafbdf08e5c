//! The process-wide panic hook: a panic in any thread is logged with the
//! thread's name and counted (`switchboard_pipeline_panics_total{thread}`);
//! the thread's liveness guard ([`super::health::ThreadGuard`]) then marks
//! the pipeline not live. A decoder panic caught as an error
//! ([`switchboard_operators::panic_guard::catch`]) is left to its caller,
//! which reports it as an error.

use std::cell::RefCell;

use switchboard_operators::panic_guard;
use tracing::error;

use super::names::PANICS;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The thread's name without a trailing worker number (`sb-source-3` →
/// `sb-source`), so that the label has a small fixed set of values.
pub fn thread_label(name: Option<&str>) -> String {
    let name = name.unwrap_or("unnamed");
    match name.rsplit_once('-') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head.into(),
        _ => name.into(),
    }
}

/// The message of the last panic on this thread (read by its guard).
pub fn last_panic() -> Option<String> {
    LAST.with(|l| l.borrow().clone())
}

/// Installs the hook (replacing the default one, which prints a multi-line
/// message and a backtrace hint).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        if panic_guard::catching() {
            // The caller turns it into an error (e.g. a corrupt CRM file).
            tracing::debug!(panic = %info, "decoder panic caught");
            return;
        }
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed").to_string();
        let message = panic_guard::panic_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST.with(|l| *l.borrow_mut() = Some(message.clone()));
        metrics::counter!(PANICS, "thread" => thread_label(thread.name())).increment(1);
        if name == "main" || !tracing::dispatcher::has_been_set() {
            // The command's own thread (or no log subscriber, as in unit
            // tests): one line on stderr, as for errors.
            eprintln!(
                "error: internal failure: {} (at {location})",
                crate::config::secrets::redact(&message)
            );
        } else {
            error!(thread = %name, panic = %message, location = %location, "thread panicked");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_numbers_are_removed_from_the_label() {
        assert_eq!(thread_label(Some("sb-source-12")), "sb-source");
        assert_eq!(thread_label(Some("sb-downstream")), "sb-downstream");
        assert_eq!(thread_label(Some("sb-crm-updates")), "sb-crm-updates");
        assert_eq!(thread_label(None), "unnamed");
    }
}
