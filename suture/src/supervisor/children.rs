//! A supervisor's children: what it keeps of each, across restarts and serves.

use std::borrow::Cow;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::task::AbortHandle;
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
    /// Its service between runs, or the run that holds it.
    life: Life,
    /// What few children have, out of line: a pool of plain children stays small.
    rare: Option<Box<Rare>>,
    /// How many runs have started, across serves (restarts = runs - 1).
    pub(crate) runs: u64,
    pub(crate) state: ChildState,
    /// The path: written for every child as a serve begins (one buffer for all), or at its
    /// first start for a child added since.
    pub(crate) path: Option<ChildPath>,
    /// The current run's token, until the run is told to stop (then it is cancelled and let
    /// go: the run's context holds the last handle, and the child's task frees it). Between
    /// runs, the last run's token if it ended without being cancelled: the next run reuses
    /// it, which saves an allocation per restart.
    pub(crate) token: Option<CancellationToken>,
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
            life: Life::Resting(service),
            restart,
            significant,
            runs: 0,
            state: ChildState::Stopped,
            path: None,
            token: None,
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

    /// Its path under `supervisor`: the one its runs were given in this serve (borrowed, so
    /// that the caller copies it once into whatever it keeps), or made now.
    pub(crate) fn path_in(&self, supervisor: &str) -> Cow<'_, str> {
        match &self.path {
            Some(path) => Cow::Borrowed(path.as_str()),
            None => Cow::Owned(format!("{supervisor}/{}", self.name)),
        }
    }

    pub(crate) fn restarts(&self) -> u64 {
        self.runs.saturating_sub(1)
    }

    /// The current run, while its task exists (starting, running or stopping).
    pub(crate) fn run(&self) -> Option<&Run> {
        match &self.life {
            Life::Running(run) => Some(run),
            Life::Resting(_) | Life::Gone => None,
        }
    }

    pub(crate) fn run_mut(&mut self) -> Option<&mut Run> {
        match &mut self.life {
            Life::Running(run) => Some(run),
            Life::Resting(_) | Life::Gone => None,
        }
    }

    /// Let go for good (see `let_go`): it never starts again.
    pub(crate) fn is_gone(&self) -> bool {
        matches!(self.life, Life::Gone)
    }

    /// Whether a run's task exists (and holds the service).
    pub(crate) fn has_run(&self) -> bool {
        matches!(self.life, Life::Running(_))
    }

    /// Hands the service to a new run begun `since` (see [`Run::since`]), which the caller
    /// spawns; `None` if a run exists already.
    pub(crate) fn begin_run(&mut self, since: u64) -> Option<Box<dyn DynService>> {
        let run = Run {
            task: None,
            since,
            deadline: None,
            stop: None,
        };
        match std::mem::replace(&mut self.life, Life::Running(run)) {
            Life::Resting(service) => Some(service),
            other => {
                self.life = other;
                None
            }
        }
    }

    /// Takes its service for good, between runs (its supervisor's last serve is ending): the
    /// child stays listed, stopped, and never starts again.
    pub(crate) fn let_go(&mut self) -> Option<Box<dyn DynService>> {
        match std::mem::replace(&mut self.life, Life::Gone) {
            Life::Resting(service) => Some(service),
            other => {
                self.life = other;
                None
            }
        }
    }

    /// Takes back the service of its run, which ended; gives the run, or gives the service
    /// back if there was no run (the child keeps its own).
    pub(crate) fn end_run(
        &mut self,
        service: Box<dyn DynService>,
    ) -> Result<Run, Box<dyn DynService>> {
        let Life::Running(run) = &mut self.life else {
            return Err(service);
        };
        let run = std::mem::take(run);
        self.life = Life::Resting(service);
        Ok(run)
    }

    /// Running (or starting), and not told to stop.
    pub(crate) fn is_live(&self) -> bool {
        self.run().is_some_and(|run| run.stop.is_none())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.run().is_some_and(|run| run.stop.is_some())
    }

    /// Removed by request and still stopping: no longer listed, no longer in any group.
    pub(crate) fn is_removed(&self) -> bool {
        self.run()
            .and_then(|run| run.stop)
            .is_some_and(|stop| stop.then == AfterStop::Remove)
    }
}

/// A child's service is in one place at a time: with its supervisor between runs, or in the
/// task of its run, which hands it back when it ends. One or the other, in the room of the
/// larger: a pool keeps one record per child.
enum Life {
    Resting(Box<dyn DynService>),
    Running(Run),
    /// Let go at the end of its supervisor's last serve (see `let_go`).
    Gone,
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
#[derive(Default)]
pub(crate) struct Run {
    /// Only to abort: the task's end comes back through the inbox. `None` in unit tests.
    pub(crate) task: Option<AbortHandle>,
    /// When it started, in nanoseconds from its supervisor's first serve (the same for
    /// every serve): half the size of an `Instant`, in a record a pool keeps per child.
    pub(crate) since: u64,
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

/// A child's path, `supervisor/name`: a slice of a text shared by the children that started
/// together. A pool's start-up writes all its paths into one buffer ([`Paths`]), so that a
/// million children cost one allocation for their paths rather than a million, and their
/// tasks have no string of their own to free.
#[derive(Clone)]
pub(crate) struct ChildPath {
    text: Arc<OnceLock<String>>,
    start: u32,
    end: u32,
}

impl ChildPath {
    /// The empty path, of a root context.
    pub(crate) fn root() -> ChildPath {
        ChildPath {
            text: Arc::new(OnceLock::from(String::new())),
            start: 0,
            end: 0,
        }
    }

    /// One child's path, in a buffer of its own (a child added or started alone).
    pub(crate) fn join(supervisor: &str, name: &Name) -> ChildPath {
        Paths::default().push(supervisor, name)
    }

    pub(crate) fn as_str(&self) -> &str {
        let text = self.text.get().map_or("", String::as_str);
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

impl fmt::Debug for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Writes paths into one shared buffer. The paths it hands out read as empty until it is
/// dropped (which seals the buffer): drop it before any child starts.
#[derive(Default)]
pub(crate) struct Paths {
    shared: Arc<OnceLock<String>>,
    text: String,
}

impl Paths {
    /// Room for `children` paths under `supervisor`, guessing their names short.
    pub(crate) fn for_children(supervisor: &str, children: usize) -> Paths {
        let mut paths = Paths::default();
        paths
            .text
            .reserve(children.saturating_mul(supervisor.len() + 16));
        paths
    }

    pub(crate) fn push(&mut self, supervisor: &str, name: &Name) -> ChildPath {
        let suffix = name.suffix();
        let parts = [supervisor, "/", name.base(), suffix.as_str()];
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if u32::try_from(self.text.len() + len).is_err() {
            // Offsets are kept small: past 4 GiB of paths, a new buffer begins.
            *self = Paths::default();
        }
        let start = self.text.len();
        for part in parts {
            self.text.push_str(part);
        }
        ChildPath {
            text: self.shared.clone(),
            // Within `u32` (checked above), unless one path alone is longer: it then reads
            // as empty rather than as another's.
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(self.text.len()).unwrap_or(0),
        }
    }
}

impl Drop for Paths {
    fn drop(&mut self) {
        let _ = self.shared.set(std::mem::take(&mut self.text));
    }
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

    /// A pool keeps one record per child, most of what a child costs beyond its task: a
    /// field more and a million children cost megabytes more.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_record_stays_within_its_budget() {
        let size = std::mem::size_of::<Child>();
        assert!(
            size <= 96,
            "a child's record takes {size} bytes, its budget 96"
        );
    }

    #[test]
    fn paths_join_with_a_slash_whatever_their_length() {
        let mut names = super::super::names::Names::default();
        let mut name = |text: &str| names.claim(&Arc::new(text.to_owned()));
        assert_eq!(
            ChildPath::join("app/db", &name("pool")).as_str(),
            "app/db/pool"
        );
        assert_eq!(
            ChildPath::join("app/db", &name("pool")).as_str(),
            "app/db/pool#2"
        );
        assert_eq!(ChildPath::join("app", &name("naïve")).as_str(), "app/naïve");
        let long = "x".repeat(300);
        assert_eq!(
            ChildPath::join("app", &name(&long)).as_str(),
            format!("app/{long}")
        );
        assert_eq!(ChildPath::root().as_str(), "");
    }

    #[test]
    fn paths_written_together_share_one_buffer_and_read_once_sealed() {
        let mut names = super::super::names::Names::default();
        let mut paths = Paths::default();
        let a = paths.push("pool", &names.claim(&Arc::new("worker".to_owned())));
        let b = paths.push("pool", &names.claim(&Arc::new("worker".to_owned())));
        assert_eq!(a.as_str(), "", "not sealed yet");
        drop(paths);
        assert_eq!((a.as_str(), b.as_str()), ("pool/worker", "pool/worker#2"));
        assert!(Arc::ptr_eq(&a.text, &b.text));
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
