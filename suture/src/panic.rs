//! Capturing the message and location of a supervised service's panic.
//!
//! A process-wide panic hook, installed once, checks a thread-local flag that is set only
//! while a supervised service is being called (`serve`) or polled. For those panics it
//! records the message, location and (when enabled) backtrace for the supervisor's event
//! instead of printing them; every other panic goes to the hook that was there before.
//!
//! The backtrace is kept unresolved: a panic pays for the stack walk only, and symbols are
//! looked up the first time someone formats it (most never are).

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::panic::{self, PanicHookInfo};
use std::sync::{Arc, Once};

thread_local! {
    static SUPERVISED: Cell<bool> = const { Cell::new(false) };
    static CAPTURED: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// What only the hook can see. The message is read from the payload once it is caught.
struct Captured {
    location: Option<String>,
    backtrace: Option<Arc<Backtrace>>,
}

/// A panic of a supervised service, as its supervisor reports it.
pub(crate) struct PanicReport {
    /// Shared, so that the child's last error keeps it without a copy.
    pub(crate) message: Arc<str>,
    pub(crate) location: Option<String>,
    /// Unresolved until formatted; shared with the event (and its clones).
    pub(crate) backtrace: Option<Arc<Backtrace>>,
    pub(crate) payload: Box<dyn Any + Send>,
}

/// Installs the capturing hook (once per process).
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if SUPERVISED.get() {
                capture(info);
            } else {
                previous(info);
            }
        }));
    });
}

fn capture(info: &PanicHookInfo<'_>) {
    let backtrace = Backtrace::capture();
    let captured = Captured {
        location: info.location().map(|l| l.to_string()),
        // Not formatted here: that would resolve every frame's symbols, per panic.
        backtrace: (backtrace.status() == BacktraceStatus::Captured).then(|| Arc::new(backtrace)),
    };
    CAPTURED.with_borrow_mut(|slot| *slot = Some(captured));
}

/// Marks the current thread as calling or polling a supervised service until dropped.
pub(crate) struct SupervisedScope {
    previous: bool,
}

impl SupervisedScope {
    pub(crate) fn enter() -> Self {
        SupervisedScope {
            previous: SUPERVISED.replace(true),
        }
    }
}

impl Drop for SupervisedScope {
    fn drop(&mut self) {
        SUPERVISED.set(self.previous);
    }
}

/// Builds the report of a panic just caught on this thread.
pub(crate) fn report(payload: Box<dyn Any + Send>) -> PanicReport {
    let captured = CAPTURED.with_borrow_mut(Option::take);
    let (location, backtrace) = match captured {
        Some(c) => (c.location, c.backtrace),
        None => (None, None),
    };
    let message =
        Arc::from(payload_message(payload.as_ref()).unwrap_or("non-string panic payload"));
    PanicReport {
        message,
        location,
        backtrace,
        payload,
    }
}

fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
