//! Events: what a supervisor reports, to `tracing` (target `suture`) and to event hooks.

use std::backtrace::Backtrace;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// A callback receiving every event of a supervisor's subtree, besides `tracing`.
///
/// Hooks run synchronously on the supervisor's task: keep them short. They may call the
/// supervisor's handle ([`SupervisorHandle::add`](crate::SupervisorHandle::add) is not async;
/// spawn a task for the async calls) without deadlocking it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use suture::{Event, EventHook};
///
/// let hook: EventHook = Arc::new(|event: &Event| eprintln!("{event}"));
/// let sup = suture::Supervisor::builder("app").event_hook(move |e: &Event| hook(e)).build();
/// assert!(sup.is_ok());
/// ```
pub type EventHook = Arc<dyn Fn(&Event) + Send + Sync + 'static>;

/// Something that happened in a supervisor tree.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use suture::{Event, EventKind, Supervisor};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let sup = Supervisor::builder("app")
///     .event_hook(move |e: &Event| {
///         if let EventKind::Panicked { message, .. } = &e.kind {
///             log.lock().unwrap().push(message.clone());
///         }
///     })
///     .build()
///     .unwrap();
/// # drop(sup);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// The path of the supervisor that emitted it, e.g. `"app/listeners"`.
    pub supervisor: Arc<str>,
    /// What happened.
    pub kind: EventKind,
}

/// Whether a child that ended will run again.
///
/// # Examples
///
/// ```
/// use suture::{Event, EventKind, Restarting};
///
/// fn will_run_again(event: &Event) -> bool {
///     matches!(
///         event.kind,
///         EventKind::Terminated { restarting: Restarting::Now | Restarting::AfterBackoff, .. }
///     )
/// }
/// # let _ = will_run_again;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Restarting {
    /// It is being restarted now.
    Now,
    /// It is queued until the current backoff ends.
    AfterBackoff,
    /// It will not run again (its restart type, `DoNotRestart`, or its supervisor is
    /// stopping or escalating).
    No,
}

impl fmt::Display for Restarting {
    /// In words, as logged: `now`, `after backoff`, `no`.
    ///
    /// ```
    /// assert_eq!(suture::Restarting::AfterBackoff.to_string(), "after backoff");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Restarting::Now => "now",
            Restarting::AfterBackoff => "after backoff",
            Restarting::No => "no",
        })
    }
}

/// A failure count as people read it: two decimals at most (the decayed count is rarely whole).
pub(crate) fn rounded(failures: f64) -> f64 {
    (failures * 100.0).round() / 100.0
}

/// A duration as people read it: `250ms`, `1.5s`, `2m 30s`, `1h 5m`, `forever`.
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d == Duration::MAX {
            return f.write_str("forever");
        }
        let secs = d.as_secs();
        if secs >= 3600 {
            write!(f, "{}h {}m", secs / 3600, secs % 3600 / 60)
        } else if secs >= 60 {
            write!(f, "{}m {}s", secs / 60, secs % 60)
        } else if secs >= 1 {
            let tenths = (d.as_millis() + 50) / 100;
            match tenths % 10 {
                0 => write!(f, "{}s", tenths / 10),
                t => write!(f, "{}.{t}s", tenths / 10),
            }
        } else if d.as_millis() >= 1 {
            write!(f, "{}ms", (d.as_micros() + 500) / 1000)
        } else {
            write!(f, "{}µs", d.as_micros())
        }
    }
}

/// The kinds of [`Event`].
///
/// # Examples
///
/// ```
/// use suture::{Event, EventKind};
///
/// fn log(event: &Event) {
///     match &event.kind {
///         EventKind::Panicked { service, message, location, backtrace, .. } => {
///             eprintln!("{}/{service} panicked at {location:?}: {message}", event.supervisor);
///             if let Some(backtrace) = backtrace {
///                 eprintln!("{backtrace}"); // symbols are resolved here, not at the panic
///             }
///         }
///         EventKind::BackoffStarted { pause, .. } => eprintln!("pausing restarts for {pause:?}"),
///         other => eprintln!("{other:?}"),
///     }
/// }
/// let sup = suture::Supervisor::builder("app").event_hook(log).build();
/// assert!(sup.is_ok());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventKind {
    /// A child started (`restarts` = how many times it had been restarted before).
    Started {
        /// The child's name.
        service: Arc<str>,
        /// How many restarts preceded this start.
        restarts: u64,
    },
    /// A child panicked.
    Panicked {
        /// The child's name.
        service: Arc<str>,
        /// The panic message (or a placeholder for a non-string payload).
        message: String,
        /// Where it panicked, `file:line:col`, when known.
        location: Option<String>,
        /// The backtrace, when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) enabled one, as
        /// [`Backtrace::capture`] decides.
        ///
        /// It is captured unresolved: its symbols are looked up the first time it is
        /// formatted (`{backtrace}`), which is slow once and then cached; a panic nobody
        /// formats costs only the stack walk. Shared, so that cloning the event is cheap.
        backtrace: Option<Arc<Backtrace>>,
        /// Whether it will run again.
        restarting: Restarting,
        /// The supervisor's decayed failure count after this failure.
        failures: f64,
    },
    /// A child returned (with an error, or normally).
    Terminated {
        /// The child's name.
        service: Arc<str>,
        /// The error it returned; `None` for `Ok(())`.
        error: Option<String>,
        /// Whether it will run again.
        restarting: Restarting,
        /// The supervisor's decayed failure count after this end (unchanged if it did not count).
        failures: f64,
    },
    /// Intensity was exceeded: restarts pause for `pause`.
    BackoffStarted {
        /// How long restarts pause (backoff plus jitter).
        pause: Duration,
        /// The failure count that crossed the threshold.
        failures: f64,
    },
    /// The backoff ended; queued children restart.
    BackoffEnded,
    /// A child did not stop within its shutdown budget and was aborted.
    StopTimeout {
        /// The child's name.
        service: Arc<str>,
    },
    /// Intensity was exceeded in `escalate` mode: the supervisor stops and fails to its parent.
    Escalated {
        /// The failure count that crossed the threshold.
        failures: f64,
        /// The threshold.
        threshold: f64,
    },
    /// A child asked to terminate the tree; this supervisor stops.
    TreeTerminated {
        /// The child that asked.
        service: Arc<str>,
    },
    /// A service panicked in its `Drop` when its supervisor let it go (removed, forgotten,
    /// or given up); the supervisor carried on.
    DropPanicked {
        /// The service's name.
        service: Arc<str>,
        /// The panic message.
        message: String,
        /// Where it panicked, if known.
        location: Option<String>,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sup = &self.supervisor;
        match &self.kind {
            EventKind::Started { service, restarts } => {
                write!(f, "{sup}: started `{service}` (restarts: {restarts})")
            }
            EventKind::Panicked {
                service,
                message,
                location,
                restarting,
                ..
            } => {
                write!(f, "{sup}: `{service}` panicked: {message}")?;
                if let Some(location) = location {
                    write!(f, " at {location}")?;
                }
                write!(f, " (restarting: {restarting})")
            }
            EventKind::Terminated {
                service,
                error,
                restarting,
                ..
            } => match error {
                Some(error) => write!(
                    f,
                    "{sup}: `{service}` failed: {error} (restarting: {restarting})"
                ),
                None => write!(f, "{sup}: `{service}` returned (restarting: {restarting})"),
            },
            EventKind::BackoffStarted { pause, failures } => {
                write!(
                    f,
                    "{sup}: backing off for {} after {} failures",
                    Human(*pause),
                    rounded(*failures)
                )
            }
            EventKind::BackoffEnded => write!(f, "{sup}: backoff ended, resuming restarts"),
            EventKind::StopTimeout { service } => {
                write!(f, "{sup}: `{service}` did not stop in time and was aborted")
            }
            EventKind::Escalated {
                failures,
                threshold,
            } => write!(
                f,
                "{sup}: intensity exceeded ({} > {threshold}), escalating to the parent",
                rounded(*failures)
            ),
            EventKind::TreeTerminated { service } => {
                write!(f, "{sup}: `{service}` asked to terminate the tree")
            }
            EventKind::DropPanicked {
                service, message, ..
            } => write!(
                f,
                "{sup}: `{service}` panicked while being dropped: {message}"
            ),
        }
    }
}

/// The chain of hooks an event is delivered to: a supervisor's own, then its ancestors'.
pub(crate) struct EventSink {
    hook: Option<EventHook>,
    parent: Option<Arc<EventSink>>,
    active: bool,
}

impl EventSink {
    pub(crate) fn new(hook: Option<EventHook>, parent: Option<Arc<EventSink>>) -> Arc<Self> {
        let active = hook.is_some() || parent.as_ref().is_some_and(|p| p.active);
        Arc::new(EventSink {
            hook,
            parent,
            active,
        })
    }

    /// Whether any hook listens: events are only built when one does.
    pub(crate) fn is_active(&self) -> bool {
        self.active
    }

    pub(crate) fn deliver(&self, event: &Event) {
        let mut sink = Some(self);
        while let Some(s) = sink {
            if let Some(hook) = &s.hook {
                // A hook that panics must not take its supervisor down with it.
                let delivered = panic::catch_unwind(AssertUnwindSafe(|| hook(event)));
                if let Err(payload) = delivered {
                    // Inside a supervised service (a nested supervisor's loop), the panic
                    // hook captured the panic rather than printing it: this line is all
                    // there is of it.
                    let report = crate::panic::report(payload);
                    tracing::error!(
                        target: "suture",
                        supervisor = %event.supervisor,
                        panic = %report.message,
                        location = report.location.as_deref().unwrap_or("unknown"),
                        "event hook panicked"
                    );
                }
            }
            sink = s.parent.as_deref();
        }
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSink")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Human, rounded};

    #[test]
    fn durations_and_counts_read_as_people_write_them() {
        let human = |d: Duration| Human(d).to_string();
        assert_eq!(human(Duration::ZERO), "0µs");
        assert_eq!(human(Duration::from_micros(250)), "250µs");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(15)), "15s");
        assert_eq!(human(Duration::from_millis(15_990)), "16s");
        assert_eq!(human(Duration::from_secs(150)), "2m 30s");
        assert_eq!(human(Duration::from_secs(3900)), "1h 5m");
        assert_eq!(human(Duration::MAX), "forever");
        assert_eq!(rounded(1.995_265_335_131_728_4), 2.0);
        assert_eq!(rounded(2.344), 2.34);
    }
}
