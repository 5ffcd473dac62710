//! Typed handles to the children of a declared tree: [`ChildRef`] for one child,
//! [`PoolHandle`] for a pool (a `Vec<T>` field of a `supervisor!` struct).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::SupervisorError;
use crate::service::Service;
use crate::spec::ChildSpec;
use crate::supervisor::SupervisorHandle;
use crate::tree::{ChildInfo, ChildToken};

/// A typed handle to one child of a supervisor: name it, read its state, stop, start or
/// restart it in place.
///
/// A `supervisor!` struct's generated handle gives one per plain field (`app.handle().cache()`),
/// and a [`PoolHandle`] gives one per element. The type parameter is the child's type, so a
/// handle cannot be mixed up with another child's. It is cheap to clone, and usable before,
/// while and after the tree runs: control methods answer with a typed error
/// ([`SupervisorError::NotRunning`], [`SupervisorError::Finished`]) when the supervisor is not
/// running, never a panic.
///
/// # Examples
///
/// ```
/// use suture::{supervisor, ChildState, Context, Service, ServiceResult};
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Service)]
/// struct Cache;
/// impl Cache {
///     async fn run(&mut self, ctx: Context) -> ServiceResult {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// supervisor! {
///     struct App {
///         cache: Cache,
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut app = App::new(Cache);
/// let cache = app.handle().cache(); // a `ChildRef<Cache>`
/// assert_eq!(cache.name(), "cache");
/// assert!(cache.stop().await.is_err()); // not running yet: a typed error
///
/// let stop = CancellationToken::new();
/// let task = tokio::spawn({
///     let stop = stop.clone();
///     async move { app.serve(Context::new(stop)).await }
/// });
/// for _ in 0..1000 {
///     if app_is_up(&cache).await {
///         break;
///     }
///     tokio::task::yield_now().await;
/// }
/// cache.restart().await.unwrap();
/// let info = cache.info().await.unwrap();
/// assert_eq!((info.path.as_str(), info.restarts), ("app/cache", 1));
/// cache.stop().await.unwrap();
/// assert_eq!(cache.info().await.unwrap().state, ChildState::Stopped);
/// stop.cancel();
/// task.await.unwrap().unwrap();
/// # }
/// # async fn app_is_up(cache: &suture::ChildRef<Cache>) -> bool {
/// #     cache.info().await.is_ok_and(|i| i.state == ChildState::Running)
/// # }
/// ```
pub struct ChildRef<T> {
    supervisor: SupervisorHandle,
    token: ChildToken,
    name: Arc<str>,
    _type: PhantomData<fn() -> T>,
}

impl<T> ChildRef<T> {
    pub(crate) fn new(supervisor: SupervisorHandle, token: ChildToken, name: Arc<str>) -> Self {
        ChildRef {
            supervisor,
            token,
            name,
            _type: PhantomData,
        }
    }

    /// The child's name among its siblings: its `#[child(name = ...)]`, else its field's
    /// name (for a pool's element: its own name, made unique in the pool).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's token in its supervisor, for the untyped [`SupervisorHandle`] methods.
    pub fn token(&self) -> ChildToken {
        self.token
    }

    /// The handle of the supervisor this child belongs to.
    pub fn supervisor(&self) -> &SupervisorHandle {
        &self.supervisor
    }

    /// The child's live state: state, restarts, last error, uptime, path.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotRunning`] / [`SupervisorError::Finished`] if its supervisor is
    /// not running; [`SupervisorError::UnknownChild`] if the child is gone (removed, or it
    /// returned `DoNotRestart`).
    pub async fn info(&self) -> Result<ChildInfo, SupervisorError> {
        self.supervisor
            .children()
            .await?
            .into_iter()
            .find(|c| c.token == self.token)
            .ok_or_else(|| SupervisorError::UnknownChild {
                supervisor: self.supervisor.name().to_owned(),
            })
    }

    /// The child's path in the running tree, such as `app/listeners/http`.
    ///
    /// It is asked of the running supervisor, since a declared supervisor does not know
    /// where it is mounted until it runs.
    ///
    /// # Errors
    ///
    /// As [`info`](Self::info).
    pub async fn path(&self) -> Result<String, SupervisorError> {
        Ok(self.info().await?.path)
    }

    /// Stops the child and leaves it stopped; see [`SupervisorHandle::stop_child`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::stop_child`].
    pub async fn stop(&self) -> Result<(), SupervisorError> {
        self.supervisor.stop_child(self.token).await
    }

    /// Starts the child if it is stopped; see [`SupervisorHandle::start_child`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::start_child`].
    pub async fn start(&self) -> Result<(), SupervisorError> {
        self.supervisor.start_child(self.token).await
    }

    /// Stops the child and starts it again, as an operator would; see
    /// [`SupervisorHandle::restart_child`].
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::restart_child`].
    pub async fn restart(&self) -> Result<(), SupervisorError> {
        self.supervisor.restart_child(self.token).await
    }
}

impl<T> Clone for ChildRef<T> {
    fn clone(&self) -> Self {
        ChildRef {
            supervisor: self.supervisor.clone(),
            token: self.token,
            name: self.name.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> PartialEq for ChildRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
    }
}

impl<T> Eq for ChildRef<T> {}

impl<T> fmt::Debug for ChildRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildRef")
            .field("name", &self.name)
            .field("supervisor", &self.supervisor.name())
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// How a pool configures each element: the field's `#[child(...)]` options.
pub(crate) type Configure = dyn Fn(ChildSpec) -> ChildSpec + Send + Sync;

/// The typed handle of a pool: a `Vec<T>` field of a `supervisor!` struct, which runs as a
/// nested supervisor named after the field (one_for_one, concurrent shutdown), one child per
/// element.
///
/// [`add`](Self::add) grows it (before or while it runs), [`remove`](Self::remove) shrinks
/// it, [`children`](Self::children) lists its elements. Each element gets the field's
/// `#[child(...)]` options and a name unique in the pool: its `#[child(name = ...)]`, else its
/// own [`Service::name`], with the lowest free suffix when taken (`Worker`, `Worker#2`).
///
/// # Examples
///
/// ```
/// use suture::{supervisor, Context, Service, ServiceResult};
///
/// #[derive(Service)]
/// struct Worker;
/// impl Worker {
///     async fn run(&mut self, ctx: Context) -> ServiceResult {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// supervisor! {
///     struct App {
///         workers: Vec<Worker>,
///     }
/// }
///
/// let app = App::new(vec![Worker, Worker]);
/// let workers = app.handle().workers(); // a `PoolHandle<Worker>`
/// let third = workers.add(Worker).unwrap();
/// assert_eq!(third.name(), "Worker#3"); // its type's name, made unique
/// assert_eq!(workers.name(), "workers");
/// ```
pub struct PoolHandle<T> {
    supervisor: SupervisorHandle,
    inner: Arc<PoolInner>,
    _type: PhantomData<fn() -> T>,
}

struct PoolInner {
    configure: Box<Configure>,
}

impl<T> PoolHandle<T> {
    pub(crate) fn new(supervisor: SupervisorHandle, configure: Box<Configure>) -> Self {
        PoolHandle {
            supervisor,
            inner: Arc::new(PoolInner { configure }),
            _type: PhantomData,
        }
    }

    /// The pool's name: its field's name.
    pub fn name(&self) -> &str {
        self.supervisor.name()
    }

    /// The pool's own supervisor handle.
    pub fn supervisor(&self) -> &SupervisorHandle {
        &self.supervisor
    }

    /// Removes an element: it is told to stop (within its shutdown budget) and forgotten.
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::remove`]; [`SupervisorError::WrongSupervisor`] for an element
    /// of another pool.
    pub async fn remove(&self, child: &ChildRef<T>) -> Result<(), SupervisorError> {
        self.supervisor.remove(child.token).await
    }

    /// The elements now in the pool, in start order.
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::children`].
    pub async fn children(&self) -> Result<Vec<ChildRef<T>>, SupervisorError> {
        Ok(self
            .supervisor
            .children()
            .await?
            .into_iter()
            .map(|c| ChildRef::new(self.supervisor.clone(), c.token, Arc::from(c.name)))
            .collect())
    }
}

impl<T: Service> PoolHandle<T> {
    /// Adds an element, with the field's `#[child(...)]` options; it starts at once if the
    /// pool runs, else when it is served.
    ///
    /// # Errors
    ///
    /// As [`SupervisorHandle::add`]: [`SupervisorError::Finished`] once the pool has stopped
    /// for good.
    pub fn add(&self, child: T) -> Result<ChildRef<T>, SupervisorError> {
        let spec = (self.inner.configure)(child.child_spec());
        let (token, name) = self.supervisor.add_named(child, spec)?;
        Ok(ChildRef::new(self.supervisor.clone(), token, name.shared()))
    }
}

impl<T> Clone for PoolHandle<T> {
    fn clone(&self) -> Self {
        PoolHandle {
            supervisor: self.supervisor.clone(),
            inner: self.inner.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for PoolHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("name", &self.supervisor.name())
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}
