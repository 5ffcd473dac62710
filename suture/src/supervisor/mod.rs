//! [`Supervisor`]: a supervisor's value, served as a [`Service`].
//!
//! The parts, one concept each: `builder` (settings, checked once), `handle` (the
//! always-answering face, and what it shares with the value), `children` (what is kept of
//! each child), `store` (the children, inline in start order), `names` (unique sibling
//! names), `policy` and `intensity` (pure decisions), `stopping` (deadlines and waiters),
//! `machine` (the synchronous state machine), `driver` (the one async loop that feeds it),
//! `inbox` (what children and handles send the loop), `report` (events), `meters`
//! (metrics).

mod builder;
mod children;
mod driver;
mod handle;
pub(crate) mod inbox;
mod intensity;
mod machine;
mod meters;
mod names;
mod policy;
mod report;
mod stopping;
mod store;

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub(crate) use builder::Config;
pub use builder::SupervisorBuilder;
pub(crate) use children::ChildPath;
pub use handle::SupervisorHandle;
pub(crate) use handle::{Command, Lifecycle, Shared, StopTally};
pub(crate) use names::is_valid as is_valid_name;

use crate::context::Context;
use crate::error::{ServiceResult, SupervisorError};
use crate::event::EventSink;
use crate::health::Health;
use crate::service::{FromChild, Service};
use crate::spec::{ChildSpec, Shutdown};
use crate::tree::ChildToken;
use children::dispose;
use inbox::Inbox;
use machine::Machine;
use report::Reporter;
use store::Store;

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
    commands: Inbox<Command>,
    machine: Machine,
    /// Every run reports here its end (handing its service back), its readiness, and for a
    /// child supervisor its health. Kept with the value, not the serve: a run aborted with its
    /// serve hands its service back for the next one.
    from_children: (inbox::Sender<FromChild>, Inbox<FromChild>),
}

static NEXT_SUPERVISOR: AtomicU64 = AtomicU64::new(1);

/// The children of a dropped supervisor, with its name (for the report of a panicking `Drop`).
type Orphans = (Arc<str>, Store);

thread_local! {
    /// The children of supervisors being dropped on this thread (with their supervisor's
    /// name), dropped by the outermost drop: a deep chain of nested supervisors drops in a
    /// loop, not a recursion.
    static DROPPING: RefCell<Option<Vec<Orphans>>> = const { RefCell::new(None) };
}

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
        SupervisorBuilder::new(name.into())
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

    /// Serves this supervisor on a new task and returns once its start-up is done: every
    /// initial child started, each ready-gated one ready (or once the serve has ended, if it
    /// ends first). A ready-gated child that never gets ready keeps it waiting, as it keeps
    /// the children after it waiting.
    ///
    /// The task's output is what [`serve`](Service::serve) returned. The supervisor is
    /// consumed: the task drops it before it ends, and a child supervisor still running when
    /// the shutdown begins is dropped, with its subtree, as soon as it has stopped.
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
        self.shared.mark_last_serve();
        let task =
            tokio::spawn(async move { driver::serve(&mut self, ctx, Some(started_tx)).await });
        // An error (the loop ended before starting) just means there is nothing to wait for.
        let _ = started_rx.await;
        task
    }
}

impl Service for Supervisor {
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send {
        driver::serve(self, ctx, None)
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
            .field("children", &self.machine.children.len())
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    fn new(name: Cow<'static, str>, config: Config) -> Supervisor {
        let (tx, rx) = inbox::inbox();
        let shared = Arc::new(Shared {
            id: NEXT_SUPERVISOR.fetch_add(1, Ordering::Relaxed),
            name: Arc::from(name.as_ref()),
            config,
            next_child: AtomicU64::new(0),
            lifecycle: Mutex::new(Lifecycle::Idle),
            pending: Mutex::default(),
            commands: tx,
            unstopped: Mutex::new(Vec::new()),
            names: Mutex::default(),
            health: watch::Sender::new(Health::Stopped),
            stops: Mutex::new(StopTally::default()),
            last_serve: AtomicBool::new(false),
        });
        let report = Reporter::idle(shared.name.clone(), EventSink::new(None, None));
        Supervisor {
            machine: Machine::new(shared.clone(), report),
            shared,
            commands: rx,
            from_children: inbox::inbox(),
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let pending = {
            let mut lifecycle = self.shared.lifecycle();
            *lifecycle = Lifecycle::Finished;
            std::mem::take(&mut *self.shared.pending())
        };
        let children = std::mem::take(&mut self.machine.children);
        let name = self.shared.name.clone();
        let outermost = DROPPING.with_borrow_mut(|queue| {
            let outermost = queue.is_none();
            // Handed over whole: the outermost drop takes them in turn.
            let queue = queue.get_or_insert_default();
            if !pending.is_empty() {
                queue.push((name.clone(), pending));
            }
            queue.push((name, children));
            outermost
        });
        if !outermost {
            return;
        }
        while let Some((supervisor, children)) =
            DROPPING.with_borrow_mut(|queue| queue.as_mut().and_then(Vec::pop))
        {
            // Each child is dropped on its own, with panics caught: one panicking `Drop` must
            // neither take the others with it nor, panicking again, abort the process.
            for child in children.into_children() {
                if let Some(report) = dispose(child) {
                    tracing::error!(target: "suture", supervisor = %supervisor, panic = %report.message, "a child panicked while being dropped");
                }
            }
        }
        DROPPING.with_borrow_mut(|queue| *queue = None);
    }
}
