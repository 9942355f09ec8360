//! Catching panics with their message, location and, on request, backtrace.
//!
//! One panic hook, installed once per process, records what it can about a
//! panic on a thread that is inside a [`Capture`] (the glue around `init`,
//! `handle` and `shutdown`, and the router around handlers and hooks), so the
//! SDK can write it to Apache's error log (and, in debug mode, on the 500
//! page) instead of stderr. Panics on other threads go to the hook that was
//! there before.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many captures are active on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Whether the innermost capture wants a backtrace.
    static BACKTRACE: Cell<bool> = const { Cell::new(false) };
    /// What the hook recorded about the last panic inside a capture.
    static LAST: RefCell<Option<Report>> = const { RefCell::new(None) };
}

/// What is known about a caught panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// The panic's message, followed by ` (at FILE:LINE:COLUMN)` when the
    /// location is known.
    pub(crate) message: String,
    /// The backtrace, when the capture asked for one.
    pub(crate) backtrace: Option<String>,
}

/// Code running on this thread whose panics the hook records; restores the
/// previous state when dropped, unwinding included.
pub(crate) struct Capture {
    previous_backtrace: bool,
}

impl Capture {
    /// Starts capturing, with a backtrace for each panic if `backtrace`.
    pub(crate) fn enter(backtrace: bool) -> Capture {
        install();
        DEPTH.with(|d| d.set(d.get() + 1));
        LAST.with(|l| l.borrow_mut().take());
        Capture {
            previous_backtrace: BACKTRACE.with(|b| b.replace(backtrace)),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        BACKTRACE.with(|b| b.set(self.previous_backtrace));
    }
}

/// Installs the hook, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.try_with(Cell::get).unwrap_or(0) == 0 {
                return previous(info);
            }
            let mut message = payload_text(info.payload()).to_owned();
            if let Some(location) = info.location() {
                message = format!(
                    "{message} (at {}:{}:{})",
                    location.file(),
                    location.line(),
                    location.column()
                );
            }
            let backtrace = BACKTRACE
                .try_with(Cell::get)
                .unwrap_or(false)
                .then(|| Backtrace::force_capture().to_string());
            let _ = LAST.try_with(|l| {
                if let Ok(mut l) = l.try_borrow_mut() {
                    *l = Some(Report { message, backtrace });
                }
            });
        }));
    });
}

/// The text of a panic payload.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic with a payload that is not a string"
    }
}

/// The report of a caught panic: what the hook recorded, or else the
/// payload's text. Drops the payload without letting its destructor unwind.
pub(crate) fn report(payload: Box<dyn Any + Send>) -> Report {
    let recorded = LAST
        .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten();
    let report = recorded.unwrap_or_else(|| Report {
        message: payload_text(&*payload).to_owned(),
        backtrace: None,
    });
    if let Err(nested) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(nested);
    }
    report
}

/// Runs `f`, turning a panic into its [`Report`] (with a backtrace if
/// `backtrace`).
pub(crate) fn catch<R>(backtrace: bool, f: impl FnOnce() -> R) -> Result<R, Report> {
    let _capture = Capture::enter(backtrace);
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_message_location_and_backtrace() {
        let r = catch(false, || -> () { panic!("boom {}", 1) }).unwrap_err();
        assert!(r.message.starts_with("boom 1 (at "), "{}", r.message);
        assert!(r.message.contains("panics.rs"), "{}", r.message);
        assert_eq!(r.backtrace, None);

        let r = catch(true, || -> () { panic!("with trace") }).unwrap_err();
        assert!(r.message.starts_with("with trace"));
        assert!(r.backtrace.is_some());

        assert_eq!(catch(false, || 7).unwrap(), 7);
    }

    #[test]
    fn nested_captures_restore_the_backtrace_flag() {
        let _outer = Capture::enter(true);
        let r = catch(false, || -> () { panic!("inner") }).unwrap_err();
        assert_eq!(r.backtrace, None);
        assert!(BACKTRACE.with(Cell::get));
    }

    #[test]
    fn payloads_that_are_not_text() {
        assert_eq!(
            payload_text(&42u8),
            "a panic with a payload that is not a string"
        );
        let r = report(Box::new(String::from("owned")));
        assert_eq!(r.message, "owned");
    }
}
