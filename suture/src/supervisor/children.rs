//! A supervisor's children: what it keeps of each, across restarts and serves.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::handle::SupervisorHandle;
use super::names::{self, Base, Name};
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
    /// To restart with its group (one_for_all, rest_for_one): like a first start, it keeps
    /// the members after it waiting until it is ready.
    pub(crate) regrouped: bool,
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
            token: None,
            fresh: true,
            held: false,
            regrouped: false,
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

    /// Its path under `supervisor`.
    pub(crate) fn path_in(&self, supervisor: &str) -> String {
        format!("{supervisor}/{}", self.name)
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

/// A child's path, `supervisor/name`, kept as its parts: the `supervisor/base` text,
/// shared by the siblings added under one name (a pool's elements), and the name's suffix.
/// It is written out only when read as one string, which few paths ever are: a pool's
/// start-up makes a million of them.
///
/// Its texts are behind thin pointers (`Arc<String>`): 32 bytes rather than 48, and a
/// service's context is one allocation size step smaller.
pub(crate) struct ChildPath {
    prefix: Base,
    /// 1 for a bare name, which shows no suffix.
    suffix: u32,
    /// The whole path of a suffixed name, written at its first read.
    written: OnceLock<Base>,
}

impl ChildPath {
    /// The empty path, of a root context.
    pub(crate) fn root() -> ChildPath {
        ChildPath {
            prefix: Base::default(),
            suffix: 1,
            written: OnceLock::new(),
        }
    }

    /// One child's path, with a prefix of its own.
    #[cfg(test)]
    pub(crate) fn join(supervisor: &str, name: &Name) -> ChildPath {
        Paths::default().path(supervisor, name)
    }

    pub(crate) fn as_str(&self) -> &str {
        if self.suffix == 1 {
            return &self.prefix;
        }
        self.written.get_or_init(|| Arc::new(self.to_string()))
    }
}

impl fmt::Display for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        names::write_suffixed(f, &self.prefix, self.suffix)
    }
}

impl fmt::Debug for ChildPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Makes children's paths for one serve: the children of one name share the text of their
/// `supervisor/base`, written once.
#[derive(Default)]
pub(crate) struct Paths {
    /// The base last written, and its `supervisor/base`: a pool's children start one after
    /// another.
    last: Option<(Base, Base)>,
}

impl Paths {
    /// The path of `name` under `supervisor` (the same supervisor until `clear`).
    pub(crate) fn path(&mut self, supervisor: &str, name: &Name) -> ChildPath {
        let base = name.shared_base();
        let prefix = match &self.last {
            Some((last, prefix)) if Arc::ptr_eq(last, base) => prefix.clone(),
            _ => {
                let prefix = Arc::new([supervisor, "/", base.as_str()].concat());
                self.last = Some((base.clone(), prefix.clone()));
                prefix
            }
        };
        ChildPath {
            prefix,
            suffix: name.suffix_number(),
            written: OnceLock::new(),
        }
    }

    /// Forgets the texts written: the next serve's supervisor path may differ.
    pub(crate) fn clear(&mut self) {
        self.last = None;
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

    /// Every run's context keeps its path: with 32 bytes, the context's allocation stays in
    /// the allocator's 64-byte size step.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_path_stays_within_its_budget() {
        let size = std::mem::size_of::<ChildPath>();
        assert!(size <= 32, "a path takes {size} bytes, its budget 32");
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
    fn siblings_of_one_name_share_their_prefix_and_read_their_own_path() {
        let mut names = super::super::names::Names::default();
        let mut paths = Paths::default();
        let worker = Arc::new("worker".to_owned());
        let a = paths.path("pool", &names.claim(&worker));
        let b = paths.path("pool", &names.claim(&worker));
        let other = paths.path("pool", &names.claim(&Arc::new("db".to_owned())));
        assert!(Arc::ptr_eq(&a.prefix, &b.prefix));
        assert_eq!(
            (a.as_str(), b.as_str(), other.as_str()),
            ("pool/worker", "pool/worker#2", "pool/db")
        );
        assert_eq!(
            b.to_string(),
            "pool/worker#2",
            "displayed without being written out"
        );
        paths.clear();
        let again = paths.path("app/pool", &names.claim(&worker));
        assert_eq!(again.as_str(), "app/pool/worker#3");
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
