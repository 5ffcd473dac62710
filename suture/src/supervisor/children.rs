//! A supervisor's children: what it keeps of each, across restarts and serves.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::SupervisorHandle;
use super::names::Name;
use super::stopping::Key;
use crate::error::ServiceError;
use crate::panic::{self, PanicReport};
use crate::service::DynService;
use crate::spec::{ChildPolicy, ChildSpec, Restart, Shutdown};
use crate::tree::ChildState;

/// One child, as its supervisor's value keeps it.
pub(crate) struct Child {
    pub(crate) name: Name,
    pub(crate) restart: Restart,
    /// Its end may shut its supervisor down (see `AutoShutdown`).
    pub(crate) significant: bool,
    /// Present while the child is not running; its task holds it otherwise.
    pub(crate) service: Option<Box<dyn DynService>>,
    /// What few children have, out of line: a pool of plain children stays small.
    rare: Option<Box<Rare>>,
    /// How many runs have started, across serves (restarts = runs - 1).
    pub(crate) runs: u64,
    pub(crate) state: ChildState,
    /// The path, computed at its first start in each serve.
    pub(crate) path: Option<Arc<str>>,
    /// The current run, while its task exists.
    pub(crate) run: Option<Run>,
    /// The token of the last run, if it ended without being cancelled: the next run reuses
    /// it, which saves an allocation per restart.
    pub(crate) spare_token: Option<CancellationToken>,
    /// Not started yet in this serve: its first start waits for the start-up gate, and
    /// starts even during a backoff (it is no restart).
    pub(crate) fresh: bool,
    /// Stopped by request (`stop_child`): nothing starts it but `start_child` or a new serve.
    pub(crate) held: bool,
    /// Counted among its supervisor's unwell children (see `Unwell`).
    pub(crate) counted: bool,
}

impl Child {
    pub(crate) fn new(name: Name, service: Box<dyn DynService>, spec: ChildSpec) -> Child {
        let ChildPolicy {
            restart,
            shutdown,
            ready,
            significant,
        } = spec.policy();
        let supervisor = service.supervisor_handle();
        let rare = (supervisor.is_some() || shutdown.is_some() || ready.is_some()).then(|| {
            Box::new(Rare {
                supervisor,
                shutdown,
                ready,
                last_error: None,
            })
        });
        Child {
            name,
            rare,
            service: Some(service),
            restart,
            significant,
            runs: 0,
            state: ChildState::Stopped,
            path: None,
            run: None,
            spare_token: None,
            fresh: true,
            held: false,
            counted: false,
        }
    }

    /// Its handle, when the child is itself a supervisor.
    pub(crate) fn supervisor(&self) -> Option<&SupervisorHandle> {
        self.rare.as_ref()?.supervisor.as_ref()
    }

    /// Its own stop budget, if it has one (else its supervisor's).
    pub(crate) fn shutdown(&self) -> Option<Shutdown> {
        self.rare.as_ref()?.shutdown
    }

    /// How long it has to say it is ready, if it is ready-gated.
    pub(crate) fn ready(&self) -> Option<Duration> {
        self.rare.as_ref()?.ready
    }

    /// Why it last failed, if it ever did.
    pub(crate) fn last_error(&self) -> Option<&LastError> {
        self.rare.as_ref()?.last_error.as_ref()
    }

    pub(crate) fn set_last_error(&mut self, error: LastError) {
        self.rare.get_or_insert_default().last_error = Some(error);
    }

    /// Whether its own state counts against its supervisor's health: anything but running,
    /// or stopped when that is fine (finished, or not started yet), or being removed.
    pub(crate) fn is_unwell(&self) -> bool {
        if self.is_removed() {
            return false;
        }
        match self.state {
            ChildState::Running => false,
            ChildState::Stopped => self.held,
            _ => true,
        }
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.runs.saturating_sub(1)
    }

    /// Running (or starting), and not told to stop.
    pub(crate) fn is_live(&self) -> bool {
        self.run.as_ref().is_some_and(|run| run.stop.is_none())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.run.as_ref().is_some_and(|run| run.stop.is_some())
    }

    /// Removed by request and still stopping: no longer listed, no longer in any group.
    pub(crate) fn is_removed(&self) -> bool {
        self.run
            .as_ref()
            .and_then(|run| run.stop)
            .is_some_and(|stop| stop.then == AfterStop::Remove)
    }
}

/// What only some children have.
#[derive(Default)]
struct Rare {
    supervisor: Option<SupervisorHandle>,
    shutdown: Option<Shutdown>,
    ready: Option<Duration>,
    last_error: Option<LastError>,
}

/// The current run of a child.
pub(crate) struct Run {
    /// Dropped once it is cancelled: the run's context then holds the last handle, and the
    /// child's task frees it, not the supervisor.
    pub(crate) token: Option<CancellationToken>,
    /// Only to abort: the task's end comes back on the exit channel. `None` in unit tests.
    pub(crate) task: Option<AbortHandle>,
    pub(crate) since: Instant,
    /// Its ready deadline while starting, then its stop deadline once told to stop.
    pub(crate) deadline: Option<Key>,
    pub(crate) stop: Option<Stop>,
}

/// A run told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop {
    /// Aborted already: its deadline is now the grace before it is reported unstoppable.
    pub(crate) aborted: bool,
    pub(crate) then: AfterStop,
}

/// What happens to a child once its stop is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterStop {
    /// It stays stopped (shutdown, `stop_child`, a group restart: the group decides).
    Rest,
    /// It is forgotten (`remove`).
    Remove,
    /// It starts again at once, counting nothing (`restart_child`).
    Start,
    /// It missed its ready deadline: handled as a failure by the policy.
    NotReady,
}

/// Why a child last failed, kept as cheaply as possible until a snapshot formats it.
pub(crate) enum LastError {
    Failed(ServiceError),
    Panicked(Arc<str>),
}

impl LastError {
    pub(crate) fn text(&self) -> String {
        match self {
            LastError::Failed(error) => format!("{error:#}"),
            LastError::Panicked(message) => format!("panicked: {message}"),
        }
    }
}

/// `supervisor/name`, joined on the stack and copied once into its `Arc` (a pool builds one
/// per child at start-up).
pub(crate) fn join_path(supervisor: &str, name: &Name) -> Arc<str> {
    let suffix = name.suffix();
    let parts = [
        supervisor.as_bytes(),
        b"/",
        name.base().as_bytes(),
        suffix.as_bytes(),
    ];
    let len = parts.iter().map(|part| part.len()).sum();
    let mut stack = [0u8; 128];
    if let Some(out) = stack.get_mut(..len) {
        let mut at = 0;
        for part in parts {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        // Whole `str`s joined: always valid UTF-8.
        if let Ok(path) = std::str::from_utf8(out) {
            return Arc::from(path);
        }
    }
    Arc::from(String::from_utf8_lossy(&parts.concat()))
}

/// Drops `value` (a child, a service) with panics caught: a service's `Drop` must not take
/// its supervisor down. Returns the panic, for the supervisor to report.
pub(crate) fn dispose<T>(value: T) -> Option<PanicReport> {
    let _scope = panic::SupervisedScope::enter();
    std::panic::catch_unwind(AssertUnwindSafe(move || drop(value)))
        .err()
        .map(panic::report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_with_a_slash_whatever_their_length() {
        let mut names = super::super::names::Names::default();
        let mut name = |text: &str| names.claim(&Arc::from(text));
        assert_eq!(&*join_path("app/db", &name("pool")), "app/db/pool");
        assert_eq!(&*join_path("app/db", &name("pool")), "app/db/pool#2");
        assert_eq!(&*join_path("app", &name("naïve")), "app/naïve");
        let long = "x".repeat(300);
        assert_eq!(&*join_path("app", &name(&long)), format!("app/{long}"));
    }

    #[test]
    fn a_panicking_drop_is_caught_and_reported() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("boom in drop");
            }
        }
        panic::install_hook();
        let report = dispose(Bomb).expect("the panic is reported");
        assert_eq!(&*report.message, "boom in drop");
        assert!(dispose(String::from("fine")).is_none());
    }
}
