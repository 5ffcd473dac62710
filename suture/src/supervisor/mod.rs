//! [`Supervisor`], its [`SupervisorBuilder`] and its cloneable [`SupervisorHandle`].

mod runner;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::error::{BuildError, ServiceResult, SupervisorError};
use crate::event::{Event, EventHook};
use crate::service::{self, DynService, Service};
use crate::spec::{
    AutoShutdown, ChildPolicy, ChildSpec, OnExceeded, Shutdown, ShutdownOrder, Strategy,
};
use crate::tree::{ChildInfo, ChildState, ChildToken, TreeNode, UnstoppedService};

/// A supervisor: runs its children, restarts them by its policy, and stops them in order.
///
/// Build one with [`Supervisor::builder`], add children (before or while it runs), then serve
/// it: as the root with [`suture::run`](crate::run) or [`Supervisor::serve_background`], or as
/// a child of another supervisor (a supervisor is a [`Service`]).
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Context, Service, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut app = Supervisor::builder("app").build().unwrap();
/// app.add(service_fn("worker", |ctx: Context| async move {
///     ctx.cancelled().await;
///     Ok(())
/// }))
/// .unwrap();
///
/// let stop = CancellationToken::new();
/// stop.cancel(); // stop at once, for the example
/// app.serve(Context::new(stop)).await.unwrap();
/// # }
/// ```
pub struct Supervisor {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Boxed: B-tree nodes are often half full, and a pointer wastes less than a `Child`.
    children: BTreeMap<u64, Box<Child>>,
}

/// A cloneable handle to a [`Supervisor`]: add, remove and inspect children from anywhere.
///
/// Every method returns a typed error instead of panicking or hanging.
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Context, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").build().unwrap();
/// let handle = sup.handle();
/// let stop = CancellationToken::new();
/// let task = sup.serve_background(Context::new(stop.clone())).await;
/// // From anywhere, while it runs: add, inspect, remove.
/// let token = handle
///     .add(service_fn("job", |ctx: Context| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .unwrap();
/// assert_eq!(handle.children().await.unwrap().len(), 1);
/// handle.remove(token).await.unwrap();
/// stop.cancel();
/// task.await.unwrap().unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct SupervisorHandle {
    shared: Arc<Shared>,
}

/// Builds a [`Supervisor`]; every setting is checked by [`build`](Self::build).
///
/// Defaults (Go's suture where it has one): one_for_one; intensity 5 failures with a 30 s
/// half-life; on exceeding it, back off 15 s with jitter 0.5; 10 s shutdown budget per child;
/// reverse shutdown order; termination propagates; panics are caught; no auto-shutdown.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{OnExceeded, Strategy, Supervisor};
///
/// let sup = Supervisor::builder("listeners")
///     .strategy(Strategy::OneForAll)
///     .intensity(3, Duration::from_secs(10))
///     .on_exceeded(OnExceeded::Escalate)
///     .shutdown(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(sup.handle().name(), "listeners");
/// ```
#[must_use]
pub struct SupervisorBuilder {
    name: Cow<'static, str>,
    config: Config,
    backoff_set: bool,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) strategy: Strategy,
    pub(crate) threshold: f64,
    pub(crate) half_life: Duration,
    pub(crate) on_exceeded: OnExceeded,
    pub(crate) backoff: Duration,
    pub(crate) jitter: f64,
    pub(crate) shutdown: Duration,
    pub(crate) shutdown_order: ShutdownOrder,
    pub(crate) propagate_termination: bool,
    pub(crate) pass_through_panics: bool,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) hook: Option<EventHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategy: Strategy::OneForOne,
            threshold: 5.0,
            half_life: Duration::from_secs(30),
            on_exceeded: OnExceeded::Backoff,
            backoff: Duration::from_secs(15),
            jitter: 0.5,
            shutdown: Duration::from_secs(10),
            shutdown_order: ShutdownOrder::Reverse,
            propagate_termination: true,
            pass_through_panics: false,
            auto_shutdown: AutoShutdown::Never,
            hook: None,
        }
    }
}

/// What the supervisor's value and its handles share.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    pub(crate) config: Config,
    next_child: AtomicU64,
    lifecycle: Mutex<Lifecycle>,
    commands: mpsc::UnboundedSender<Command>,
    unstopped: Mutex<Vec<UnstoppedService>>,
    /// The last static name given to a child, shared with the next child of that name.
    last_name: Mutex<Option<(&'static str, Arc<str>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Not being served now; children added are kept for the next `serve`.
    Idle,
    Running,
    /// Finished for good (cancelled, terminated, or dropped by its parent).
    Stopped,
}

pub(crate) enum Command {
    /// Built by the caller of `add`, so that the loop only inserts it.
    Add { id: u64, child: Box<Child> },
    Remove {
        id: u64,
        reply: oneshot::Sender<Result<(), SupervisorError>>,
        stopped: Option<oneshot::Sender<Result<(), SupervisorError>>>,
    },
    Children {
        reply: oneshot::Sender<Vec<ChildInfo>>,
    },
}

/// One child, as its supervisor's value keeps it across restarts of the supervisor.
pub(crate) struct Child {
    pub(crate) name: Arc<str>,
    pub(crate) policy: ChildPolicy,
    /// Present while the child is not running; its task holds it otherwise.
    pub(crate) service: Option<Box<dyn DynService>>,
    pub(crate) supervisor: Option<SupervisorHandle>,
    pub(crate) restarts: u64,
    pub(crate) started_once: bool,
    pub(crate) last_error: Option<runner::LastError>,
    pub(crate) state: ChildState,
    /// The path, computed at the first start of each serve.
    pub(crate) path: Option<Arc<str>>,
    /// The current incarnation, while its task exists.
    pub(crate) run: Option<runner::Run>,
    /// The token of the last incarnation, if it ended without being cancelled.
    pub(crate) spare_token: Option<tokio_util::sync::CancellationToken>,
}

impl Child {
    fn new(name: Arc<str>, service: Box<dyn DynService>, spec: ChildSpec) -> Box<Child> {
        Box::new(Child {
            name,
            supervisor: service.supervisor_handle(),
            service: Some(service),
            policy: spec.policy(),
            restarts: 0,
            started_once: false,
            last_error: None,
            state: ChildState::Stopped,
            path: None,
            run: None,
            spare_token: None,
        })
    }
}

static NEXT_SUPERVISOR: AtomicU64 = AtomicU64::new(1);

impl Supervisor {
    /// Starts building a supervisor named `name` (its path segment; no `/`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::Supervisor;
    ///
    /// let sup = Supervisor::builder("app")
    ///     .intensity(10, Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.handle().name(), "app");
    /// ```
    pub fn builder(name: impl Into<Cow<'static, str>>) -> SupervisorBuilder {
        SupervisorBuilder {
            name: name.into(),
            config: Config::default(),
            backoff_set: false,
        }
    }

    /// A handle to this supervisor, usable from anywhere while and after it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle(); // cloneable, 'static: keep it after `sup` moves
    /// assert!(!handle.is_running());
    /// ```
    pub fn handle(&self) -> SupervisorHandle {
        SupervisorHandle {
            shared: self.shared.clone(),
        }
    }

    /// Adds a child with its own [`Service::child_spec`]; see [`SupervisorHandle::add`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::add`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, Context, Supervisor};
    ///
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(service_fn("worker", |ctx: Context| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .unwrap();
    /// assert_eq!(sup.handle().name(), "app");
    /// ```
    pub fn add<S: Service>(&self, service: S) -> Result<ChildToken, SupervisorError> {
        self.handle().add(service)
    }

    /// Adds a child with an explicit spec; see [`SupervisorHandle::add_with`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::add_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, ChildSpec, Context, Restart, Supervisor};
    ///
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let job = service_fn("migrate", |_ctx: Context| async { Ok(()) });
    /// // Runs once: not restarted after it returns normally.
    /// sup.add_with(job, ChildSpec::new().restart(Restart::Transient)).unwrap();
    /// ```
    pub fn add_with<S: Service>(
        &self,
        service: S,
        spec: ChildSpec,
    ) -> Result<ChildToken, SupervisorError> {
        self.handle().add_with(service, spec)
    }

    /// Serves this supervisor on a new task and returns once its loop runs and its initial
    /// children have started (the ones waiting for `ready` included).
    ///
    /// The task's output is what [`serve`](Service::serve) returned.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes leaves the spawned supervisor running.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// assert!(handle.is_running());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// assert!(!handle.is_running());
    /// # }
    /// ```
    pub async fn serve_background(mut self, ctx: Context) -> JoinHandle<ServiceResult> {
        let (started_tx, started_rx) = oneshot::channel();
        let task =
            tokio::spawn(async move { runner::serve(&mut self, ctx, Some(started_tx)).await });
        // An error (the loop ended before starting) just means there is nothing to wait for.
        let _ = started_rx.await;
        task
    }
}

impl Service for Supervisor {
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send {
        runner::serve(self, ctx, None)
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(self.shared.name.to_string())
    }

    fn child_spec(&self) -> ChildSpec {
        ChildSpec::new().shutdown(Shutdown::Infinity)
    }

    fn __supervisor_handle(&self) -> Option<SupervisorHandle> {
        Some(self.handle())
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.shared.name)
            .field("children", &self.children.len())
            .finish_non_exhaustive()
    }
}

impl SupervisorBuilder {
    /// Which children restart when one must (default [`Strategy::OneForOne`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Strategy, Supervisor};
    ///
    /// // Restart both listeners together when either fails.
    /// let listeners = Supervisor::builder("listeners")
    ///     .strategy(Strategy::OneForAll)
    ///     .build();
    /// assert!(listeners.is_ok());
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// The failure threshold and the half-life of the failure count (default 5 per 30 s).
    ///
    /// Each failure does `failures = failures * 0.5^(elapsed / half_life) + 1`; when the
    /// count exceeds `threshold` (strictly), the supervisor backs off or escalates.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::Supervisor;
    ///
    /// // Tolerate about 3 failures a minute.
    /// assert!(Supervisor::builder("app").intensity(3, Duration::from_secs(60)).build().is_ok());
    /// // Zero is refused, with the setting named.
    /// let error = Supervisor::builder("app").intensity(0, Duration::from_secs(60)).build().unwrap_err();
    /// assert_eq!(error.field(), "intensity");
    /// ```
    pub fn intensity(mut self, threshold: impl Into<f64>, half_life: Duration) -> Self {
        self.config.threshold = threshold.into();
        self.config.half_life = half_life;
        self
    }

    /// What to do when intensity is exceeded (default [`OnExceeded::Backoff`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{OnExceeded, Supervisor};
    ///
    /// // Give up and let the parent decide, as an OTP supervisor does.
    /// let sup = Supervisor::builder("db").on_exceeded(OnExceeded::Escalate).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn on_exceeded(mut self, on_exceeded: OnExceeded) -> Self {
        self.config.on_exceeded = on_exceeded;
        self
    }

    /// How long restarts pause when intensity is exceeded, before jitter (default 15 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{OnExceeded, Supervisor};
    ///
    /// assert!(Supervisor::builder("app").backoff(Duration::from_secs(5)).build().is_ok());
    /// // A backoff means nothing to an escalating supervisor: refused rather than ignored.
    /// let error = Supervisor::builder("app")
    ///     .backoff(Duration::from_secs(5))
    ///     .on_exceeded(OnExceeded::Escalate)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(error.field(), "backoff");
    /// ```
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.config.backoff = backoff;
        self.backoff_set = true;
        self
    }

    /// Jitter as a fraction of the backoff: pause = backoff × (1 + U\[0, jitter)) (default 0.5).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// assert!(Supervisor::builder("app").jitter(0.1).build().is_ok());
    /// assert_eq!(Supervisor::builder("app").jitter(1.5).build().unwrap_err().field(), "jitter");
    /// ```
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// Each child's default shutdown budget (default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::Supervisor;
    ///
    /// let sup = Supervisor::builder("app").shutdown(Duration::from_secs(2)).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn shutdown(mut self, budget: Duration) -> Self {
        self.config.shutdown = budget;
        self
    }

    /// In which order children stop (default [`ShutdownOrder::Reverse`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ShutdownOrder, Supervisor};
    ///
    /// // A pool of similar connections: stop them all at once.
    /// let pool = Supervisor::builder("connections")
    ///     .shutdown_order(ShutdownOrder::Concurrent)
    ///     .build();
    /// assert!(pool.is_ok());
    /// ```
    pub fn shutdown_order(mut self, order: ShutdownOrder) -> Self {
        self.config.shutdown_order = order;
        self
    }

    /// Whether `TerminateTree` from below passes through this supervisor (default `true`).
    /// If not, this supervisor stops and returns `DoNotRestart`, so its parent drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// // A plugin host: a plugin asking to end the tree ends only the host.
    /// let plugins = Supervisor::builder("plugins").propagate_termination(false).build();
    /// assert!(plugins.is_ok());
    /// ```
    pub fn propagate_termination(mut self, propagate: bool) -> Self {
        self.config.propagate_termination = propagate;
        self
    }

    /// Re-raise children's panics instead of restarting them (default `false`): the
    /// supervisor stops its children, then panics with the same payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// // In tests, a panicking service should fail the test rather than be restarted.
    /// let sup = Supervisor::builder("under-test").pass_through_panics(true).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn pass_through_panics(mut self, pass_through: bool) -> Self {
        self.config.pass_through_panics = pass_through;
        self
    }

    /// Shut down when significant children finish (default [`AutoShutdown::Never`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, AutoShutdown, ChildSpec, Context, Restart, Supervisor};
    ///
    /// // The supervisor ends when its main job does.
    /// let sup = Supervisor::builder("batch")
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .build()
    ///     .unwrap();
    /// let job = service_fn("job", |_ctx: Context| async { Ok(()) });
    /// let spec = ChildSpec::new().restart(Restart::Transient).significant(true);
    /// sup.add_with(job, spec).unwrap();
    /// ```
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.config.auto_shutdown = auto_shutdown;
        self
    }

    /// A callback receiving every event of this supervisor's subtree.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use suture::{Event, Supervisor};
    ///
    /// let events = Arc::new(AtomicUsize::new(0));
    /// let count = events.clone();
    /// let sup = Supervisor::builder("app")
    ///     .event_hook(move |_event: &Event| {
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn event_hook(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.config.hook = Some(Arc::new(hook));
        self
    }

    /// Checks every setting and builds the supervisor.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the first setting that is zero or out of range: an empty name
    /// or one containing `/`, a threshold that is not a positive finite number, a zero
    /// half-life, backoff or shutdown, a jitter outside `0.0..=1.0`, or a backoff given with
    /// [`OnExceeded::Escalate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// let error = Supervisor::builder("a/b").build().unwrap_err();
    /// assert_eq!(error.field(), "name");
    /// assert!(Supervisor::builder("app").build().is_ok());
    /// ```
    pub fn build(self) -> Result<Supervisor, BuildError> {
        let c = &self.config;
        if self.name.is_empty() || self.name.contains('/') {
            return Err(BuildError::new(
                "name",
                "must be non-empty and contain no `/`",
            ));
        }
        if !(c.threshold.is_finite() && c.threshold > 0.0) {
            return Err(BuildError::new(
                "intensity",
                format!(
                    "threshold must be a positive finite number, got {}",
                    c.threshold
                ),
            ));
        }
        if c.half_life.is_zero() {
            return Err(BuildError::new(
                "intensity",
                "half-life must be greater than zero",
            ));
        }
        if c.backoff.is_zero() {
            return Err(BuildError::new("backoff", "must be greater than zero"));
        }
        if self.backoff_set && c.on_exceeded == OnExceeded::Escalate {
            return Err(BuildError::new(
                "backoff",
                "has no effect with `OnExceeded::Escalate`; remove one of the two",
            ));
        }
        if !(c.jitter.is_finite() && (0.0..=1.0).contains(&c.jitter)) {
            return Err(BuildError::new(
                "jitter",
                format!("must be a fraction between 0.0 and 1.0, got {}", c.jitter),
            ));
        }
        if c.shutdown.is_zero() {
            return Err(BuildError::new(
                "shutdown",
                "must be greater than zero (use `Shutdown::Abort` on a child for no grace)",
            ));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            id: NEXT_SUPERVISOR.fetch_add(1, Ordering::Relaxed),
            name: Arc::from(self.name.as_ref()),
            config: self.config,
            next_child: AtomicU64::new(0),
            lifecycle: Mutex::new(Lifecycle::Idle),
            commands: tx,
            unstopped: Mutex::new(Vec::new()),
            last_name: Mutex::new(None),
        });
        Ok(Supervisor {
            shared,
            commands: rx,
            children: BTreeMap::new(),
        })
    }
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The children of a pool are usually added one after another under the same static
    /// name (their type's): they share one string instead of allocating one each.
    fn intern(&self, name: Cow<'static, str>) -> Arc<str> {
        let Cow::Borrowed(name) = name else {
            return Arc::from(name);
        };
        let mut last = self.last_name.lock().unwrap_or_else(|e| e.into_inner());
        match &*last {
            Some((text, shared)) if *text == name => shared.clone(),
            _ => {
                let shared: Arc<str> = Arc::from(name);
                *last = Some((name, shared.clone()));
                shared
            }
        }
    }

    pub(crate) fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        // The lock is never held across user code, so poisoning cannot leave it inconsistent.
        self.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn unstopped(&self) -> MutexGuard<'_, Vec<UnstoppedService>> {
        self.unstopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn name(&self) -> String {
        self.name.to_string()
    }

    fn token(&self, child: u64) -> ChildToken {
        ChildToken {
            supervisor: self.id,
            child,
        }
    }

    /// Sends a command the loop must answer, or fails at once if the loop is not running.
    fn request(&self, command: Command) -> Result<(), SupervisorError> {
        let lifecycle = self.lifecycle();
        match *lifecycle {
            // Sent under the lock: the loop drains the channel after leaving `Running`,
            // so no request is left unanswered.
            Lifecycle::Running => self.commands.send(command).map_err(|_| self.not_running()),
            Lifecycle::Idle => Err(self.not_running()),
            Lifecycle::Stopped => Err(SupervisorError::Stopped {
                supervisor: self.name(),
            }),
        }
    }

    fn not_running(&self) -> SupervisorError {
        SupervisorError::NotRunning {
            supervisor: self.name(),
        }
    }

    fn check_token(&self, token: ChildToken) -> Result<(), SupervisorError> {
        if token.supervisor == self.id {
            Ok(())
        } else {
            Err(SupervisorError::WrongSupervisor {
                supervisor: self.name(),
                token_owner: token.supervisor,
            })
        }
    }
}

impl SupervisorHandle {
    /// The supervisor's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let sup = suture::Supervisor::builder("app").build().unwrap();
    /// assert_eq!(sup.handle().name(), "app");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether the supervisor's loop is running now.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// assert!(!handle.is_running());
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// assert!(handle.is_running());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// assert!(!handle.is_running());
    /// # }
    /// ```
    pub fn is_running(&self) -> bool {
        *self.shared.lifecycle() == Lifecycle::Running
    }

    /// Whether the supervisor has stopped for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// assert!(!handle.is_stopped());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// assert!(handle.is_stopped()); // cancelled from above: stopped for good
    /// # }
    /// ```
    pub fn is_stopped(&self) -> bool {
        *self.shared.lifecycle() == Lifecycle::Stopped
    }

    /// Adds a child with its own [`Service::child_spec`].
    ///
    /// If the supervisor runs, the child starts at once (even during a backoff); otherwise
    /// it starts when the supervisor is served. Not async, so event hooks may call it.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Stopped`] if the supervisor has stopped for good;
    /// [`SupervisorError::InvalidSpec`] if the spec does not fit the supervisor.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, Supervisor};
    ///
    /// let sup = Supervisor::builder("pool").build().unwrap();
    /// let token = sup.handle().add(service_fn("job", |ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }));
    /// assert!(token.is_ok());
    /// ```
    pub fn add<S: Service>(&self, service: S) -> Result<ChildToken, SupervisorError> {
        let spec = service.child_spec();
        self.add_with(service, spec)
    }

    /// Adds a child with an explicit spec, overriding the service's own.
    ///
    /// # Errors
    ///
    /// As [`add`](Self::add).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{service_fn, ChildSpec, Context, Shutdown, Supervisor};
    ///
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let flush = service_fn("flush", |ctx: Context| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// });
    /// // A longer budget to stop than the supervisor's default, and another name.
    /// let spec = ChildSpec::new()
    ///     .shutdown(Shutdown::Timeout(Duration::from_secs(30)))
    ///     .name("disk-flusher");
    /// sup.handle().add_with(flush, spec).unwrap();
    /// ```
    pub fn add_with<S: Service>(
        &self,
        service: S,
        mut spec: ChildSpec,
    ) -> Result<ChildToken, SupervisorError> {
        let name = self
            .shared
            .intern(spec.take_name().unwrap_or_else(|| service.name()));
        spec.validate(&name, self.shared.config.auto_shutdown)?;
        let child = Child::new(name, service::boxed(service), spec);
        let lifecycle = self.shared.lifecycle();
        if *lifecycle == Lifecycle::Stopped {
            return Err(SupervisorError::Stopped {
                supervisor: self.shared.name(),
            });
        }
        let id = self.shared.next_child.fetch_add(1, Ordering::Relaxed);
        let command = Command::Add { id, child };
        // The receiver lives in the supervisor's value, so the child is kept even when the
        // loop is not running; a failed send means the value itself was dropped.
        self.shared
            .commands
            .send(command)
            .map_err(|_| SupervisorError::Stopped {
                supervisor: self.shared.name(),
            })?;
        drop(lifecycle);
        Ok(self.shared.token(id))
    }

    /// Tells a child to stop and forgets it; returns once the supervisor has told it, without
    /// waiting for it to finish. It still gets its shutdown budget, then is aborted.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::WrongSupervisor`], [`SupervisorError::UnknownChild`] (removed
    /// twice, or finished), [`SupervisorError::NotRunning`] / [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the removal still happens.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// let token = handle
    ///     .add(service_fn("job", |ctx: Context| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// handle.remove(token).await.unwrap();
    /// assert!(handle.children().await.unwrap().is_empty());
    /// // A token is spent once removed.
    /// assert!(handle.remove(token).await.is_err());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn remove(&self, token: ChildToken) -> Result<(), SupervisorError> {
        self.shared.check_token(token)?;
        let (reply, answer) = oneshot::channel();
        self.shared.request(Command::Remove {
            id: token.child,
            reply,
            stopped: None,
        })?;
        answer
            .await
            .unwrap_or_else(|_| Err(self.shared.not_running()))
    }

    /// Like [`remove`](Self::remove), then waits up to `timeout` for the child to finish.
    ///
    /// # Errors
    ///
    /// As [`remove`](Self::remove), plus [`SupervisorError::Timeout`] if `timeout` passed
    /// first, and [`SupervisorError::Unstoppable`] if the child would not stop even when
    /// aborted.
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the removal still happens.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{service_fn, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// let token = handle
    ///     .add(service_fn("job", |ctx: Context| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// // Returns once the child has finished.
    /// handle.remove_and_wait(token, Duration::from_secs(5)).await.unwrap();
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn remove_and_wait(
        &self,
        token: ChildToken,
        timeout: Duration,
    ) -> Result<(), SupervisorError> {
        self.shared.check_token(token)?;
        let (reply, answer) = oneshot::channel();
        let (stopped, finished) = oneshot::channel();
        self.shared.request(Command::Remove {
            id: token.child,
            reply,
            stopped: Some(stopped),
        })?;
        answer
            .await
            .unwrap_or_else(|_| Err(self.shared.not_running()))?;
        match tokio::time::timeout(timeout, finished).await {
            Ok(Ok(result)) => result,
            // The loop dropped the sender: it ended, and stopped the child on its way out.
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(SupervisorError::Timeout(timeout)),
        }
    }

    /// A snapshot of the children, in start order.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotRunning`] / [`SupervisorError::Stopped`] if the loop is not
    /// running.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, ChildState, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(service_fn("db", |ctx: Context| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// let children = handle.children().await.unwrap();
    /// assert_eq!(children.len(), 1);
    /// assert_eq!(children[0].path, "app/db");
    /// assert_eq!(children[0].state, ChildState::Running);
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        let (reply, answer) = oneshot::channel();
        self.shared.request(Command::Children { reply })?;
        answer.await.map_err(|_| self.shared.not_running())
    }

    /// A live snapshot of the whole subtree, printable with `{}`.
    ///
    /// Child supervisors that are not running show no children.
    ///
    /// # Errors
    ///
    /// As [`children`](Self::children), for this supervisor.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let inner = Supervisor::builder("listeners").build().unwrap();
    /// inner
    ///     .add(service_fn("http", |ctx: Context| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// let root = Supervisor::builder("app").build().unwrap();
    /// root.add(inner).unwrap();
    /// let handle = root.handle();
    /// let stop = CancellationToken::new();
    /// let task = root.serve_background(Context::new(stop.clone())).await;
    /// let tree = handle.tree().await.unwrap();
    /// assert_eq!(tree.children[0].children[0].path, "app/listeners/http");
    /// println!("{tree}"); // app
    ///                     // └── listeners [running, up 0ns]
    ///                     //     └── http [running, up 0ns]
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn tree(&self) -> Result<TreeNode, SupervisorError> {
        let children = self.children().await?;
        let mut nodes = Vec::with_capacity(children.len());
        for child in children {
            let grandchildren = match &child.supervisor {
                Some(sup) => Box::pin(sup.tree())
                    .await
                    .map(|t| t.children)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            nodes.push(TreeNode {
                name: child.name,
                path: child.path,
                state: Some(child.state),
                restarts: child.restarts,
                last_error: child.last_error,
                uptime: child.uptime,
                children: grandchildren,
            });
        }
        Ok(TreeNode {
            name: self.shared.name(),
            path: String::new(),
            state: None,
            restarts: 0,
            last_error: None,
            uptime: None,
            children: nodes,
        })
    }

    /// The children, in this subtree, that did not finish even after their task was aborted
    /// at the last shutdown or removal (code blocking a thread). Empty if all stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// // Nothing here blocked its thread, so everything stopped.
    /// assert!(handle.unstopped_services().is_empty());
    /// # }
    /// ```
    pub fn unstopped_services(&self) -> Vec<UnstoppedService> {
        self.shared.unstopped().clone()
    }

    /// Marks the supervisor stopped for good (its parent dropped it).
    pub(crate) fn mark_stopped(&self) {
        let mut lifecycle = self.shared.lifecycle();
        if *lifecycle == Lifecycle::Idle {
            *lifecycle = Lifecycle::Stopped;
        }
    }
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorHandle")
            .field("name", &self.shared.name)
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

/// The child's budget, with the supervisor's default filled in.
pub(crate) fn budget(policy: &ChildPolicy, config: &Config) -> Shutdown {
    policy
        .shutdown
        .unwrap_or(Shutdown::Timeout(config.shutdown))
}
