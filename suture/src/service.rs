//! The [`Service`] contract, [`service_fn`], and the task that runs one incarnation.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
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
    Box::new(Holder(service))
}

struct Holder<S>(S);

impl<S: Service> DynService for Holder<S> {
    fn supervisor_handle(&self) -> Option<SupervisorHandle> {
        self.0.__supervisor_handle()
    }

    fn spawn(
        self: Box<Self>,
        id: u64,
        ctx: Context,
        exits: Sender<FromChild>,
        span: Span,
        restart: bool,
        runtime: &tokio::runtime::Handle,
    ) -> AbortHandle {
        // Monomorphic per service type, so the serve future can live inline in the task (on
        // a first start; see below). The guard is captured whole, not rebuilt
        // inside: a task keeps every captured value's slot, so this keeps it smaller, and an
        // abort before the first poll still hands the service back.
        let mut guard = ExitGuard {
            id,
            exits,
            service: Some(self),
        };
        let serve = async move {
            let outcome = match guard.service.as_deref_mut() {
                Some(holder) => 'serve: {
                    // `serve` itself may panic before returning its future. The future goes
                    // straight into its pinned slot: a binding between would take a second
                    // slot in the task.
                    let mut serve = pin!(match serve_caught(&mut holder.0, ctx) {
                        Ok(serve) => serve,
                        Err(report) => break 'serve Outcome::Panicked(report),
                    });
                    poll_fn(|cx| poll_caught(serve.as_mut(), cx)).await
                }
                None => return,
            };
            guard.send(outcome);
        };
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

/// Hands the service back to the supervisor however the task ends: returned, panicked,
/// or dropped by an abort (in which case the serve future is dropped first).
///
/// It holds no outcome while the service runs, so that the task stays small (many
/// thousands of idle children are common).
struct ExitGuard<S: Service> {
    id: u64,
    exits: Sender<FromChild>,
    service: Option<Box<Holder<S>>>,
}

impl<S: Service> ExitGuard<S> {
    fn send(&mut self, outcome: Outcome) {
        if let Some(service) = self.service.take() {
            // The supervisor may be gone (aborted itself); the service is then dropped here.
            let _ = self.exits.send(FromChild::Ended(Exit {
                id: self.id,
                service,
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

/// Calls `serve` with panics caught and captured, as [`poll_caught`] polls it: a service may
/// panic before it returns its future (in the synchronous part of `serve`).
fn serve_caught<S: Service>(
    service: &mut S,
    ctx: Context,
) -> Result<impl Future<Output = ServiceResult> + Send, Box<PanicReport>> {
    let _scope = panic::SupervisedScope::enter();
    std::panic::catch_unwind(AssertUnwindSafe(|| service.serve(ctx)))
        .map_err(|payload| Box::new(panic::report(payload)))
}

/// Polls `fut` once with panics caught and captured (message, location) instead of printed.
///
/// A function over a pinned reference rather than an `async fn` taking the future: the
/// caller pins the serve future in place, so the task does not hold it twice.
fn poll_caught<F: Future<Output = ServiceResult>>(
    fut: Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Outcome> {
    let _scope = panic::SupervisedScope::enter();
    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(result)) => Poll::Ready(Outcome::Returned(result)),
        Err(payload) => Poll::Ready(Outcome::Panicked(Box::new(panic::report(payload)))),
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(short_type_name("a::b::Listener<c::D>"), "Listener");
        assert_eq!(short_type_name("Plain"), "Plain");
    }
}
