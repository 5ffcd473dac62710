//! [`SupervisorHandle`]: the cloneable, always-answering face of a supervisor, and what it
//! shares with the supervisor's value.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::builder::Config;
use super::children::Child;
use super::inbox;
use super::names::{Name, Names};
use super::store::Store;
use crate::error::SupervisorError;
use crate::health::Health;
use crate::service::{self, Service};
use crate::spec::ChildSpec;
use crate::tree::{ChildInfo, ChildToken, TreeNode, UnstoppedService};

/// A cloneable handle to a [`Supervisor`](crate::Supervisor): add, remove and inspect children from anywhere.
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
    pub(crate) shared: Arc<Shared>,
}
/// What the supervisor's value and its handles share.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    pub(crate) config: Config,
    pub(crate) next_child: AtomicU64,
    pub(crate) lifecycle: Mutex<Lifecycle>,
    /// Children added while the supervisor is idle, taken whole by its next serve: a pool
    /// filled before its first serve costs no message per child. Locked only under
    /// `lifecycle`, which decides between this and `commands`.
    pub(crate) pending: Mutex<Store>,
    pub(crate) commands: inbox::Sender<Command>,
    pub(crate) unstopped: Mutex<Vec<UnstoppedService>>,
    /// The children's names, unique among them.
    pub(crate) names: Mutex<Names>,
    /// The subtree's health, as the loop last summed it up.
    pub(crate) health: watch::Sender<Health>,
    /// How the children stopped at the last shutdown, this subtree's included.
    pub(crate) stops: Mutex<StopTally>,
    /// Its serve is its last: the value is dropped once the serve ends (see
    /// [`Shared::mark_last_serve`]).
    pub(crate) last_serve: AtomicBool,
}

/// How the children of a subtree stopped at a shutdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StopTally {
    /// Within their budget.
    pub(crate) clean: u64,
    /// Aborted once their budget was spent, and then stopped.
    pub(crate) aborted: u64,
    /// Did not stop even when aborted.
    pub(crate) unstoppable: u64,
}

impl std::ops::AddAssign for StopTally {
    fn add_assign(&mut self, other: StopTally) {
        self.clean += other.clean;
        self.aborted += other.aborted;
        self.unstoppable += other.unstoppable;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Not being served now; children added are kept for the next `serve`.
    Idle,
    Running,
    /// Stopping its children on its way to `Finished`: it answers requests, takes no child.
    Stopping,
    /// Finished for good (its last serve ended, or its parent let it go).
    Finished,
}

#[allow(clippy::large_enum_variant)] // see `Add`
pub(crate) enum Command {
    /// Built by the caller of `add`, so that the loop only inserts it. Inline, not boxed:
    /// a box per child would be freed at once into the store, leaving a pool's worth of
    /// holes scattered through the heap.
    Add { id: u64, child: Child },
    Remove {
        id: u64,
        reply: oneshot::Sender<Result<(), SupervisorError>>,
        stopped: Option<oneshot::Sender<Result<(), SupervisorError>>>,
    },
    Children {
        reply: oneshot::Sender<Vec<ChildInfo>>,
    },
    /// `stop_child`, `start_child`, `restart_child`: answered once done.
    Control {
        id: u64,
        action: Control,
        reply: oneshot::Sender<Result<(), SupervisorError>>,
    },
}

/// What an operator asks of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Stop,
    Start,
    Restart,
}
impl Shared {
    /// Says that nobody will serve this supervisor again: its owner consumed it
    /// (`serve_background`, `run`), or its parent is shutting down and will drop it. Its
    /// shutdown then lets go of each child supervisor whose run ends during it, on the
    /// worker at hand, rather than keeping every subtree for the value's drop, on one
    /// thread at the very end.
    pub(crate) fn mark_last_serve(&self) {
        self.last_serve.store(true, Ordering::Release);
    }

    /// Whether [`Shared::mark_last_serve`] was said.
    pub(crate) fn is_last_serve(&self) -> bool {
        self.last_serve.load(Ordering::Acquire)
    }

    /// Marks a running supervisor as stopping for good: from here on, new children are
    /// refused, as they would never run.
    pub(crate) fn mark_stopping(&self) {
        let mut lifecycle = self.lifecycle();
        if *lifecycle == Lifecycle::Running {
            *lifecycle = Lifecycle::Stopping;
        }
    }

    pub(crate) fn names(&self) -> MutexGuard<'_, Names> {
        // Never held across user code.
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the subtree's health; whether it changed.
    pub(crate) fn set_health(&self, health: Health) -> bool {
        let mut changed = false;
        self.health.send_if_modified(|current| {
            if *current == health {
                return false;
            }
            *current = health;
            changed = true;
            // Waking costs eight notifications per change (tokio's watch), which every
            // supervisor of a large tree pays as it starts and stops: only when someone
            // watches. One subscribing meanwhile reads the new value before it waits.
            self.health.receiver_count() > 0
        });
        changed
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.health.borrow().is_healthy()
    }

    pub(crate) fn stops(&self) -> MutexGuard<'_, StopTally> {
        self.stops.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        // The lock is never held across user code, so poisoning cannot leave it inconsistent.
        self.lifecycle.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn pending(&self) -> MutexGuard<'_, Store> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn unstopped(&self) -> MutexGuard<'_, Vec<UnstoppedService>> {
        self.unstopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn name(&self) -> String {
        self.name.to_string()
    }

    pub(crate) fn token(&self, child: u64) -> ChildToken {
        ChildToken {
            supervisor: self.id,
            child,
        }
    }

    /// Sends a command the loop must answer, or fails at once if the loop is not running.
    fn request(&self, command: Command) -> Result<(), SupervisorError> {
        let lifecycle = self.lifecycle();
        match *lifecycle {
            // Sent under the lock: the loop drains its inbox after leaving `Running`,
            // so no request is left unanswered.
            Lifecycle::Running | Lifecycle::Stopping => {
                self.commands.send(command).map_err(|_| self.not_running())
            }
            Lifecycle::Idle => Err(self.not_running()),
            Lifecycle::Finished => Err(SupervisorError::Finished {
                supervisor: self.name(),
            }),
        }
    }

    /// Why a request finds no loop to answer it: stopped for good, or not running now.
    pub(crate) fn refusal(&self) -> SupervisorError {
        match *self.lifecycle() {
            Lifecycle::Finished => SupervisorError::Finished {
                supervisor: self.name(),
            },
            _ => self.not_running(),
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

    /// Whether the supervisor has stopped for good: its value was dropped, or its last serve
    /// ended (its parent let it go, or will never serve it again). A child supervisor its
    /// parent stopped or is restarting is not finished: children added meanwhile run when it
    /// is served again.
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
    /// assert!(!handle.is_finished());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// assert!(handle.is_finished()); // cancelled from above: stopped for good
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        *self.shared.lifecycle() == Lifecycle::Finished
    }

    /// The subtree's health, as the supervisor last summed it up: a cheap read, no walk of
    /// the tree and no message to the supervisor's loop.
    ///
    /// The overall state and, when [`Degraded`](Health::Degraded) or
    /// [`BackingOff`](Health::BackingOff), the paths not running or ready, those of nested
    /// supervisors included ([`Health::unhealthy`]): what a readiness probe or a service
    /// manager's status line needs. See [`Health`] for what counts, and
    /// [`watch_health`](Self::watch_health) to be told of changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Health, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// match handle.health() {
    ///     Health::Healthy => println!("ready"),
    ///     other => println!("not ready: {other}; {:?}", other.unhealthy()),
    /// }
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn health(&self) -> Health {
        self.shared.health.borrow().clone()
    }

    /// A receiver of the subtree's [`health`](Self::health), marked changed each time it
    /// changes (one value per change in the overall state or in the paths in trouble, and
    /// only then): for a status line or a readiness endpoint that reacts to changes.
    ///
    /// It is a [`tokio::sync::watch`] receiver: `changed().await` waits for the next change,
    /// `borrow_and_update()` reads the latest. It never closes while the handle lives.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Health, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let mut health = sup.handle().watch_health();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// health.changed().await.unwrap();
    /// assert_eq!(*health.borrow_and_update(), Health::Healthy);
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// assert_eq!(*health.borrow_and_update(), Health::Stopped);
    /// # }
    /// ```
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.shared.health.subscribe()
    }

    /// Adds a child with its own [`Service::child_spec`].
    ///
    /// If the supervisor runs, the child starts at once (even during a backoff); otherwise
    /// it starts when the supervisor is served. Not async, so event hooks may call it.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Finished`] if the supervisor has stopped for good or is stopping
    /// for good (its children are being shut down);
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
        spec: ChildSpec,
    ) -> Result<ChildToken, SupervisorError> {
        self.add_named(service, spec).map(|(token, _)| token)
    }

    /// `add_with`, also giving the name the child got (unique among its siblings).
    pub(crate) fn add_named<S: Service>(
        &self,
        service: S,
        mut spec: ChildSpec,
    ) -> Result<(ChildToken, Name), SupervisorError> {
        let base = spec.take_name().unwrap_or_else(|| service.name());
        spec.validate(&base, self.shared.config.auto_shutdown)?;
        let lifecycle = self.shared.lifecycle();
        if matches!(*lifecycle, Lifecycle::Finished | Lifecycle::Stopping) {
            return Err(SupervisorError::Finished {
                supervisor: self.shared.name(),
            });
        }
        let name = {
            let mut names = self.shared.names();
            let base = names.intern(base);
            names.claim(&base)
        };
        let child = Child::new(name.clone(), service::boxed(service), spec);
        let id = self.shared.next_child.fetch_add(1, Ordering::Relaxed);
        if matches!(*lifecycle, Lifecycle::Idle) {
            self.shared.pending().insert(id, child);
            drop(lifecycle);
            return Ok((self.shared.token(id), name));
        }
        let command = Command::Add { id, child };
        // The receiver lives in the supervisor's value; a failed send means the value itself
        // was dropped.
        if self.shared.commands.send(command).is_err() {
            self.shared.names().release(&name);
            return Err(SupervisorError::Finished {
                supervisor: self.shared.name(),
            });
        }
        drop(lifecycle);
        Ok((self.shared.token(id), name))
    }

    /// Tells a child to stop and forgets it; returns once the supervisor has told it, without
    /// waiting for it to finish. It still gets its shutdown budget, then is aborted.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::WrongSupervisor`], [`SupervisorError::UnknownChild`] (removed
    /// twice, or finished), [`SupervisorError::NotRunning`] / [`SupervisorError::Finished`].
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
        answer.await.unwrap_or_else(|_| Err(self.shared.refusal()))
    }

    /// Like [`remove`](Self::remove), then waits up to `timeout` for the child to finish.
    ///
    /// # Errors
    ///
    /// As [`remove`](Self::remove), plus [`SupervisorError::WaitElapsed`] if `timeout` passed
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
            .unwrap_or_else(|_| Err(self.shared.refusal()))?;
        match tokio::time::timeout(timeout, finished).await {
            Ok(Ok(result)) => result,
            // The loop dropped the sender: it ended, and stopped the child on its way out.
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(SupervisorError::WaitElapsed(timeout)),
        }
    }

    /// A snapshot of the children, in start order.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotRunning`] / [`SupervisorError::Finished`] if the loop is not
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
        answer.await.map_err(|_| self.shared.refusal())
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
        crate::tree::snapshot(self).await
    }

    /// Stops a child within its shutdown budget (then aborts it) and leaves it stopped:
    /// no restart, nothing counted toward intensity, no effect on its siblings whatever the
    /// strategy. It stays listed, as [`ChildState::Stopped`](crate::ChildState::Stopped),
    /// until [`start_child`](Self::start_child). Returns once it has stopped; stopping a
    /// stopped child does nothing.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::WrongSupervisor`], [`SupervisorError::UnknownChild`],
    /// [`SupervisorError::NotRunning`] / [`SupervisorError::Finished`] (also if the
    /// supervisor's own task is aborted before the child has stopped), and
    /// [`SupervisorError::Unstoppable`] if it would not stop even when aborted.
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child still stops.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, ChildState, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let handle = sup.handle();
    /// let token = sup
    ///     .add(service_fn("cache", |ctx: Context| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// handle.stop_child(token).await.unwrap();
    /// assert_eq!(handle.children().await.unwrap()[0].state, ChildState::Stopped);
    /// handle.start_child(token).await.unwrap();
    /// assert_eq!(handle.children().await.unwrap()[0].state, ChildState::Running);
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn stop_child(&self, token: ChildToken) -> Result<(), SupervisorError> {
        self.control(token, Control::Stop).await
    }

    /// Starts a stopped child: one stopped by [`stop_child`](Self::stop_child), or a
    /// transient or temporary child that has ended. Returns once it has started.
    ///
    /// # Errors
    ///
    /// As [`stop_child`](Self::stop_child), and [`SupervisorError::ChildRunning`] if the
    /// child is running (or starting, or waiting for a restart).
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child still starts.
    ///
    /// # Examples
    ///
    /// See [`stop_child`](Self::stop_child).
    pub async fn start_child(&self, token: ChildToken) -> Result<(), SupervisorError> {
        self.control(token, Control::Start).await
    }

    /// Stops a child, then starts it again, as an operator would: nothing is counted toward
    /// intensity and no sibling is touched. Returns once it has started again; a stopped
    /// child is just started.
    ///
    /// # Errors
    ///
    /// As [`stop_child`](Self::stop_child).
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the restart still happens.
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
    /// let token = sup
    ///     .add(service_fn("config", |ctx: Context| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    /// let stop = CancellationToken::new();
    /// let task = sup.serve_background(Context::new(stop.clone())).await;
    /// handle.restart_child(token).await.unwrap(); // e.g. to reload its configuration
    /// assert_eq!(handle.children().await.unwrap()[0].restarts, 1);
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn restart_child(&self, token: ChildToken) -> Result<(), SupervisorError> {
        self.control(token, Control::Restart).await
    }

    async fn control(&self, token: ChildToken, action: Control) -> Result<(), SupervisorError> {
        self.shared.check_token(token)?;
        let (reply, answer) = oneshot::channel();
        self.shared.request(Command::Control {
            id: token.child,
            action,
            reply,
        })?;
        answer.await.unwrap_or_else(|_| Err(self.shared.refusal()))
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
    pub(crate) fn mark_finished(&self) {
        let mut lifecycle = self.shared.lifecycle();
        if *lifecycle == Lifecycle::Idle {
            *lifecycle = Lifecycle::Finished;
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
