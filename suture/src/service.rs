//! The [`Service`] contract, [`service_fn`], and the task that runs one incarnation.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

use tokio::task::AbortHandle;
use tracing::{Instrument, Span};

use crate::context::Context;
use crate::error::ServiceResult;
use crate::panic::{self, PanicReport};
use crate::spec::ChildSpec;
use crate::supervisor::SupervisorHandle;
use crate::supervisor::inbox::Sender;

/// A part of the program that a supervisor runs, watches and restarts.
///
/// `serve` takes `&mut self`: the *same value* is served again on restart, so a service should
/// reset its state at the top of `serve`. It returns when it is finished, when it failed, or
/// soon after `ctx` is cancelled; a service that ignores cancellation is aborted at its next
/// `.await` once its shutdown budget runs out.
///
/// # Examples
///
/// ```
/// use suture::{Context, Service, ServiceResult};
///
/// struct Ticker { ticks: u64 }
///
/// impl Service for Ticker {
///     async fn serve(&mut self, ctx: Context) -> ServiceResult {
///         self.ticks = 0;
///         while !ctx.is_cancelled() {
///             tokio::select! {
///                 _ = ctx.cancelled() => break,
///                 _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => self.ticks += 1,
///             }
///         }
///         Ok(())
///     }
/// }
/// # let _ = Ticker { ticks: 0 };
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a suture service",
    label = "this type does not implement `suture::Service`",
    note = "implement `suture::Service` for it, or derive it with `#[derive(suture::Service)]`"
)]
pub trait Service: Send + 'static {
    /// Runs until finished, failed, or `ctx` is cancelled.
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send;

    /// The name in logs, events and the tree. Default: the type's short name.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(short_type_name(std::any::type_name::<Self>()))
    }

    /// The default supervision policy for this service. Default: [`ChildSpec::new`].
    fn child_spec(&self) -> ChildSpec {
        ChildSpec::default()
    }

    /// The handle of the supervisor this service is, if it is one (for the tree snapshot and
    /// the unstopped report). Generated code forwards it; users leave it alone.
    #[doc(hidden)]
    fn __supervisor_handle(&self) -> Option<SupervisorHandle> {
        None
    }
}

/// `"my_crate::server::Listener<T>"` -> `"Listener"`.
fn short_type_name(full: &'static str) -> &'static str {
    // Single-character patterns: this runs on every `add`, and a type path has no lone `:`.
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit(':').next().unwrap_or(base)
}

/// Makes a service from a name and a closure returning the future to run.
///
/// The closure is called again on every restart.
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Service};
///
/// let worker = service_fn("worker", |ctx| async move {
///     ctx.cancelled().await;
///     Ok(())
/// });
/// assert_eq!(worker.name(), "worker");
/// ```
pub fn service_fn<F, Fut>(name: impl Into<Cow<'static, str>>, f: F) -> ServiceFn<F>
where
    F: FnMut(Context) -> Fut + Send + 'static,
    Fut: Future<Output = ServiceResult> + Send + 'static,
{
    ServiceFn {
        name: name.into(),
        f,
    }
}

/// A service made by [`service_fn`].
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Context, Service};
///
/// let svc = service_fn("ticker", |ctx: Context| async move {
///     ctx.cancelled().await;
///     Ok(())
/// });
/// assert_eq!(svc.name(), "ticker");
/// ```
pub struct ServiceFn<F> {
    name: Cow<'static, str>,
    f: F,
}

impl<F> fmt::Debug for ServiceFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFn")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F, Fut> Service for ServiceFn<F>
where
    F: FnMut(Context) -> Fut + Send + 'static,
    Fut: Future<Output = ServiceResult> + Send + 'static,
{
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send {
        (self.f)(ctx)
    }

    fn name(&self) -> Cow<'static, str> {
        self.name.clone()
    }
}

/// How one incarnation of a child ended.
pub(crate) enum Outcome {
    Returned(ServiceResult),
    /// Boxed: a panic is rare, and the exit message stays small.
    Panicked(Box<PanicReport>),
    /// Its task was aborted (or dropped) before `serve` returned.
    Aborted,
}

impl Outcome {
    /// Whether the service asked never to be restarted.
    pub(crate) fn is_do_not_restart(&self) -> bool {
        matches!(self, Outcome::Returned(Err(e)) if e.is_do_not_restart())
    }
}

/// What a child's runs tell their supervisor, all in one inbox: the loop then waits on one
/// queue, and an idle wake-up registers with one, not three.
pub(crate) enum FromChild {
    /// A run ended.
    Ended(Exit),
    /// A ready-gated run is ready: (child, run number).
    Ready { id: u64, run: u64 },
    /// A child supervisor's health changed.
    HealthChanged(u64),
}

/// The message every incarnation sends its supervisor when it ends, handing the service back.
pub(crate) struct Exit {
    pub(crate) id: u64,
    pub(crate) service: Box<dyn DynService>,
    pub(crate) outcome: Outcome,
}

/// The object-safe face of a [`Service`], as a supervisor stores it.
pub(crate) trait DynService: Send + 'static {
    fn supervisor_handle(&self) -> Option<SupervisorHandle>;
    /// Spawns one incarnation, inside `span`; it reports its end on `exits`, even when
    /// aborted. `restart` says it restarts within its supervisor's serve; `runtime` is the
    /// one the supervisor runs on.
    fn spawn(
        self: Box<Self>,
        id: u64,
        ctx: Context,
        exits: Sender<FromChild>,
        span: Span,
        restart: bool,
        runtime: &tokio::runtime::Handle,
    ) -> AbortHandle;
}

pub(crate) fn boxed<S: Service>(service: S) -> Box<dyn DynService> {
    Box::new(Holder {
        service,
        id: 0,
        exits: None,
        ctx: None,
    })
}

/// A service, and what its current run needs beyond it. These live in the service's box,
/// not in the run's task: the task holds the box and the serve future only, so that an idle
/// service's task stays in tokio's smaller size step (a pool of idle children is common).
struct Holder<S> {
    service: S,
    /// The child's id in its supervisor, for the end of the run.
    id: u64,
    /// Where the end of the run goes; set while a run is under way.
    exits: Option<Sender<FromChild>>,
    /// The context, from spawning until `serve` takes it.
    ctx: Option<Context>,
}

impl<S: Service> DynService for Holder<S> {
    fn supervisor_handle(&self) -> Option<SupervisorHandle> {
        self.service.__supervisor_handle()
    }

    fn spawn(
        mut self: Box<Self>,
        id: u64,
        ctx: Context,
        exits: Sender<FromChild>,
        span: Span,
        restart: bool,
        runtime: &tokio::runtime::Handle,
    ) -> AbortHandle {
        self.id = id;
        self.exits = Some(exits);
        self.ctx = Some(ctx);
        // Monomorphic per service type, so the serve future can live inline in the task (on
        // a first start; see below). An abort before the first poll still hands the service
        // back: the guard is dropped with the task.
        let serve = run(ExitGuard { holder: Some(self) });
        // With no subscriber interested, the span is not even stored: the task keeps its size.
        // A restart's task holds its future boxed: a small task goes through tokio's `spawn`
        // without being copied over and over, which makes a restart cycle a quarter faster
        // (W1a). A first start keeps it inline: a pool of idle children then holds one
        // allocation per child, not two.
        let task = match (span.is_none(), restart) {
            (true, false) => runtime.spawn(serve),
            (true, true) => runtime.spawn(Box::pin(serve)),
            (false, false) => runtime.spawn(serve.instrument(span)),
            (false, true) => runtime.spawn(Box::pin(serve.instrument(span))),
        };
        // Dropped while the task runs, the join handle costs little; after, much more.
        task.abort_handle()
    }
}

/// The whole of a run's task: it serves, then hands the service back.
async fn run<S: Service>(mut guard: ExitGuard<S>) {
    // Awaited as it is made: a binding (or a `match` on it) would keep a second slot the
    // size of the serve future in the task.
    let outcome = Caught::serve(guard.holder.as_deref_mut()).await;
    guard.send(outcome);
}

/// Hands the service back to the supervisor however the task ends: returned, panicked,
/// or dropped by an abort (in which case the serve future is dropped first).
///
/// One pointer, and no outcome while the service runs: the task stays small.
struct ExitGuard<S: Service> {
    holder: Option<Box<Holder<S>>>,
}

impl<S: Service> ExitGuard<S> {
    fn send(&mut self, outcome: Outcome) {
        if let Some(mut holder) = self.holder.take()
            && let Some(exits) = holder.exits.take()
        {
            // Still there if the run was aborted before it began: the context holds the
            // child's token, path and links, which must not outlive the run.
            holder.ctx = None;
            // The supervisor may be gone (aborted itself); the service is then dropped here.
            let _ = exits.send(FromChild::Ended(Exit {
                id: holder.id,
                service: holder,
                outcome,
            }));
        }
    }
}

impl<S: Service> Drop for ExitGuard<S> {
    fn drop(&mut self) {
        self.send(Outcome::Aborted);
    }
}

pin_project_lite::pin_project! {
    /// One run of a service, polled with panics caught and captured (message, location)
    /// instead of printed. No larger than the serve future, where a pinned reference to it
    /// would add a word to the task.
    #[project = CaughtProj]
    enum Caught<F> {
        Serving { #[pin] serve: F },
        /// Over before it was polled: `serve` panicked before it returned its future.
        Over { outcome: Option<Outcome> },
    }
}

impl Caught<()> {
    /// Calls `serve` with the context the holder was given. `serve` itself may panic before
    /// it returns its future (in its synchronous part): that is caught too.
    fn serve<S: Service>(
        holder: Option<&mut Holder<S>>,
    ) -> Caught<impl Future<Output = ServiceResult> + Send + '_> {
        // Both are set by `spawn` before the task exists; a run without them ends at once.
        let Some(Holder { service, ctx, .. }) = holder else {
            return Caught::Over { outcome: None };
        };
        let Some(ctx) = ctx.take() else {
            return Caught::Over { outcome: None };
        };
        let _scope = panic::SupervisedScope::enter();
        match std::panic::catch_unwind(AssertUnwindSafe(|| service.serve(ctx))) {
            Ok(serve) => Caught::Serving { serve },
            Err(payload) => Caught::Over {
                outcome: Some(Outcome::Panicked(Box::new(panic::report(payload)))),
            },
        }
    }
}

impl<F: Future<Output = ServiceResult>> Future for Caught<F> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Outcome> {
        match self.project() {
            CaughtProj::Serving { serve } => {
                let _scope = panic::SupervisedScope::enter();
                match std::panic::catch_unwind(AssertUnwindSafe(|| serve.poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(result)) => Poll::Ready(Outcome::Returned(result)),
                    Err(payload) => {
                        Poll::Ready(Outcome::Panicked(Box::new(panic::report(payload))))
                    }
                }
            }
            CaughtProj::Over { outcome } => Poll::Ready(outcome.take().unwrap_or(Outcome::Aborted)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::inbox::inbox;
    use tokio_util::sync::CancellationToken;

    /// Waits to be cancelled, as most services do most of the time.
    struct Idle;

    impl Service for Idle {
        async fn serve(&mut self, ctx: Context) -> ServiceResult {
            ctx.cancelled().await;
            Ok(())
        }
    }

    #[test]
    fn an_idle_run_fits_in_tokios_smaller_task() {
        // tokio sizes a task's memory in steps of 128 bytes, and with its header, its
        // trailer and the allocator's alignment a task takes 384 bytes rather than 512 only
        // if its future fits in 152. A pool of idle children pays this per child.
        assert!(
            std::mem::size_of::<Context>() <= 16,
            "a context is two words"
        );
        let (exits, _inbox) = inbox();
        let holder = Box::new(Holder {
            service: Idle,
            id: 1,
            exits: Some(exits),
            ctx: Some(Context::new(CancellationToken::new())),
        });
        let task = run(ExitGuard {
            holder: Some(holder),
        });
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= 152,
            "an idle service's task future takes {size} bytes"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_run_aborted_before_it_began_lets_go_of_its_context() {
        let (exits, mut inbox) = inbox();
        let (ready, mut ready_rx) = crate::context::ReadySignal::new();
        let ctx = Context::root_with_ready(CancellationToken::new(), ready);
        let task = boxed(Idle).spawn(
            1,
            ctx,
            exits,
            Span::none(),
            false,
            &tokio::runtime::Handle::current(),
        );
        task.abort();
        let ended = std::future::poll_fn(|cx| inbox.poll_recv(cx)).await;
        assert!(matches!(
            ended,
            FromChild::Ended(Exit {
                id: 1,
                outcome: Outcome::Aborted,
                ..
            })
        ));
        // The context's ready signal is gone with it.
        assert_eq!(
            ready_rx.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed)
        );
    }

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(short_type_name("a::b::Listener<c::D>"), "Listener");
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
