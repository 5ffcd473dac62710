//! The [`Context`] a service runs in: cancellation, readiness, and its place in the tree.

use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use crate::event::EventSink;
use crate::service::FromChild;
use crate::supervisor::ChildPath;
use crate::supervisor::inbox;

/// What a running service is given: the signal to stop, a way to say it is ready, and its
/// path in the tree.
///
/// Cloning is cheap; every clone observes the same cancellation.
///
/// # Examples
///
/// ```
/// use suture::{Context, ServiceResult};
///
/// async fn serve(ctx: Context) -> ServiceResult {
///     // ... bind sockets, load state ...
///     ctx.ready();
///     ctx.cancelled().await;
///     Ok(())
/// }
/// # let _ = suture::service_fn("example", serve);
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) token: CancellationToken,
    /// The rest, behind one pointer: every service's serve future holds its context, and
    /// tokio sizes a task in steps of 128 bytes. Two words keep an idle service's whole task
    /// in the step below (W2: 512 to 384 bytes per child, for one small allocation).
    place: Arc<Place>,
}

/// Where a service runs, and what only some children need.
struct Place {
    path: ChildPath,
    /// For ready-gated children, child supervisors, and every child while an event hook
    /// listens; out of line, as a pool of plain children is common.
    links: Option<Arc<Links>>,
}

/// The parts of a [`Context`] that few children have.
#[derive(Debug, Default)]
pub(crate) struct Links {
    /// For a ready-gated child (or a root served by `run`): how to say it is ready.
    pub(crate) ready: Option<ReadySignal>,
    /// While some hook listens: the parent's event hooks, which a supervisor served with this
    /// context chains its own to.
    pub(crate) events: Option<Arc<EventSink>>,
    /// For a child that is a supervisor: where to say its health changed.
    pub(crate) health: Option<HealthLink>,
}

/// A child supervisor's way to tell its parent that its health changed.
#[derive(Debug, Clone)]
pub(crate) struct HealthLink {
    pub(crate) parent: inbox::Sender<FromChild>,
    pub(crate) child: u64,
}

impl HealthLink {
    pub(crate) fn notify(&self) {
        let _ = self.parent.send(FromChild::HealthChanged(self.child));
    }
}

impl Context {
    /// A root context, for serving a tree by hand (in tests or a custom `main`);
    /// [`suture::run`](crate::run) makes one for you. Cancel `token` to stop the tree.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_util::sync::CancellationToken;
    /// let token = CancellationToken::new();
    /// let ctx = suture::Context::new(token.clone());
    /// token.cancel();
    /// assert!(ctx.is_cancelled());
    /// assert_eq!(ctx.path(), "");
    /// ```
    pub fn new(token: CancellationToken) -> Self {
        Self::child(token, ChildPath::root(), None)
    }

    /// A root context that can say it is ready (for `run`'s on-ready callback).
    pub(crate) fn root_with_ready(token: CancellationToken, ready: ReadySignal) -> Self {
        let links = Links {
            ready: Some(ready),
            ..Links::default()
        };
        Self::child(token, ChildPath::root(), Some(links))
    }

    /// Completes when the service is told to stop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing, and a new call observes the same state.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Context;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let ctx = Context::new(token.clone());
    /// token.cancel();
    /// ctx.cancelled().await; // completes at once: already cancelled
    /// # }
    /// ```
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Like [`cancelled`](Self::cancelled), but owning what it needs: a `'static` future,
    /// to hand to code that keeps it, e.g. axum's `with_graceful_shutdown`, or a task.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing, and a new call observes the same state.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{CancellationToken, Context};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let ctx = Context::new(token.clone());
    /// // Outlives `ctx`: nothing borrowed.
    /// let stopped = tokio::spawn(ctx.cancelled_owned());
    /// drop(ctx);
    /// token.cancel();
    /// stopped.await.unwrap();
    /// # }
    /// ```
    pub fn cancelled_owned(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// Whether the service has been told to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Context;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let token = CancellationToken::new();
    /// let ctx = Context::new(token.clone());
    /// assert!(!ctx.is_cancelled());
    /// token.cancel();
    /// assert!(ctx.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Says that start-up is finished, so the supervisor may start the next child.
    ///
    /// Only matters for a child started with a ready timeout
    /// ([`ChildSpec::ready_within`](crate::ChildSpec::ready_within)); otherwise, and after
    /// the first call, it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{service_fn, ChildSpec, Context, Supervisor};
    ///
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let db = service_fn("db", |ctx: Context| async move {
    ///     // ... connect ...
    ///     ctx.ready(); // the next child may start now
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// });
    /// sup.add_with(db, ChildSpec::new().ready_within(Duration::from_secs(5))).unwrap();
    /// ```
    pub fn ready(&self) {
        if let Some(signal) = self.links().and_then(|links| links.ready.as_ref()) {
            signal.fire();
        }
    }

    /// The service's path in the tree, e.g. `"app/listeners/http"`; empty for a root context.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = suture::Context::new(tokio_util::sync::CancellationToken::new());
    /// assert_eq!(ctx.path(), ""); // a root context; a child's is e.g. "app/db"
    /// ```
    pub fn path(&self) -> &str {
        self.place.path.as_str()
    }

    /// The underlying cancellation token, e.g. to hand to code that takes one.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Context;
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let ctx = Context::new(CancellationToken::new());
    /// // Hand a child token to a task the service spawns: it stops with the service.
    /// let for_task = ctx.token().child_token();
    /// assert!(!for_task.is_cancelled());
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// A child's context (or a root's, with the root path).
    pub(crate) fn child(token: CancellationToken, path: ChildPath, links: Option<Links>) -> Self {
        Context {
            token,
            place: Arc::new(Place {
                path,
                links: links.map(Arc::new),
            }),
        }
    }

    fn links(&self) -> Option<&Links> {
        self.place.links.as_deref()
    }

    /// The parent's event hooks, while some hook listens.
    pub(crate) fn events(&self) -> Option<&Arc<EventSink>> {
        self.links()?.events.as_ref()
    }

    /// For a child that is a supervisor: where to say its health changed.
    pub(crate) fn health(&self) -> Option<&HealthLink> {
        self.links()?.health.as_ref()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path())
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// The one-shot "I am ready" signal of one run of a child (or of a root, for `run`).
pub(crate) struct ReadySignal(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl ReadySignal {
    /// A root's readiness, for `run`'s on-ready callback.
    pub(crate) fn new() -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let fire = move || {
            let _ = tx.send(());
        };
        (ReadySignal(Mutex::new(Some(Box::new(fire)))), rx)
    }

    /// Reports run `run` of child `id` ready to its supervisor.
    pub(crate) fn for_child(parent: inbox::Sender<FromChild>, id: u64, run: u64) -> Self {
        let fire = move || {
            let _ = parent.send(FromChild::Ready { id, run });
        };
        ReadySignal(Mutex::new(Some(Box::new(fire))))
    }

    fn fire(&self) {
        let fire = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(fire) = fire {
            fire();
        }
    }
}

impl fmt::Debug for ReadySignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadySignal").finish_non_exhaustive()
    }
}
