//! [`run`] and [`Runner`]: serve a root service as the program's entry point, until SIGINT or
//! SIGTERM, then shut it down gracefully and turn the outcome into the process's exit status.

mod logging;
mod signals;
#[cfg(all(feature = "systemd", unix))]
mod systemd;

/// Without the `systemd` feature (or off unix), nothing is ever sent.
#[cfg(not(all(feature = "systemd", unix)))]
mod systemd {
    use crate::supervisor::SupervisorHandle;
    use tokio_util::sync::CancellationToken;

    #[derive(Debug)]
    pub(super) struct Notifier;

    impl Notifier {
        pub(super) fn start(
            _root: Option<SupervisorHandle>,
            _shutdown: &CancellationToken,
        ) -> Option<Notifier> {
            None
        }

        pub(super) fn ready(&self) {}

        pub(super) async fn stopping(self) {}
    }
}

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::context::{Context, ReadySignal};
use crate::error::ServiceResult;
use crate::service::Service;
use crate::supervisor::SupervisorHandle;

use self::signals::SignalWatcher;

/// Runs `root` until it returns, or until Ctrl-C (SIGINT) or SIGTERM; then cancels it, waits
/// for its graceful shutdown, and returns the process's exit status.
///
/// The one-line form of [`Runner`]: `Runner::new().run(root)`. See [`Runner::run`] for
/// everything it does: the exit statuses (0 after a clean stop, 1 when the root failed or
/// services would not stop, 130 / 143 when a second signal forced the exit), the cases where
/// it exits the process itself, the default logging, and the limits on a current-thread
/// runtime.
///
/// # Panics
///
/// If it is not polled inside a tokio runtime.
///
/// # Cancel safety
///
/// Dropping the future aborts the root's task, and with it the whole tree.
///
/// # Examples
///
/// ```no_run
/// use suture::{service_fn, Supervisor};
///
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     let app = Supervisor::builder("app").build().unwrap();
///     app.add(service_fn("worker", |ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .unwrap();
///     suture::run(app).await
/// }
/// ```
pub async fn run<S: Service>(root: S) -> ExitCode {
    Runner::new().run(root).await
}

/// [`run`] with options: more ways to ask for shutdown, a callback once the tree is up, and
/// the default logging switched off.
///
/// Names: `shutdown_on` rather than axum's `with_graceful_shutdown`, because the future is
/// one more trigger beside SIGINT and SIGTERM (calling it again adds another), not the only
/// one; `on_ready` after systemd's `READY=1`, which is what it is for; `default_logging`
/// names the thing switched, as the crate's builders name their settings.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
/// use suture::{service_fn, Runner, Supervisor, SupervisorHandle};
///
/// #[tokio::main]
/// async fn main() -> ExitCode {
///     let app = Supervisor::builder("app").build().unwrap();
///     app.add(service_fn("worker", |ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .unwrap();
///     let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
///     # drop(stop);
///     Runner::new()
///         // Besides SIGINT and SIGTERM: e.g. an admin endpoint holding `stop`.
///         .shutdown_on(async move {
///             let _ = stopped.await;
///         })
///         .on_ready(|app: SupervisorHandle| {
///             tracing::info!(root = app.name(), "up and running");
///         })
///         .run(app)
///         .await
/// }
/// ```
#[must_use = "a Runner does nothing until `run` is awaited"]
pub struct Runner {
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    on_ready: Option<Box<dyn FnOnce(SupervisorHandle) + Send>>,
    default_logging: bool,
    systemd_notify: bool,
}

impl Runner {
    /// A runner with the defaults of [`run`]: SIGINT and SIGTERM only, no ready callback,
    /// default logging on (with the `default-logging` feature).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> std::process::ExitCode {
    /// # let app = suture::Supervisor::builder("app").build().unwrap();
    /// // The same as `suture::run(app).await`.
    /// suture::Runner::new().run(app).await
    /// # }
    /// ```
    pub fn new() -> Self {
        Runner {
            shutdown: None,
            on_ready: None,
            default_logging: true,
            systemd_notify: true,
        }
    }

    /// Also shuts the tree down gracefully when `trigger` completes, as a first signal would.
    ///
    /// SIGINT and SIGTERM still work: a shutdown started by `trigger` is not a first signal,
    /// so the next signal is taken as the first (it logs, and the tree goes on stopping), and
    /// only a second one forces the exit. Calling this again adds another trigger; the first
    /// to complete starts the shutdown. `trigger` is polled on the task of [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::ExitCode;
    /// use suture::{service_fn, Runner, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = Supervisor::builder("app").build().unwrap();
    /// app.add(service_fn("worker", |ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .unwrap();
    /// let stop = CancellationToken::new();
    /// stop.cancel(); // for the example: stop as soon as it runs
    /// let code = Runner::new()
    ///     .shutdown_on(stop.cancelled_owned())
    ///     .default_logging(false)
    ///     .run(app)
    ///     .await;
    /// assert_eq!(code, ExitCode::SUCCESS);
    /// # }
    /// ```
    pub fn shutdown_on(mut self, trigger: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(match self.shutdown.take() {
            None => Box::pin(trigger),
            Some(previous) => Box::pin(async move {
                tokio::select! {
                    () = previous => {}
                    () = trigger => {}
                }
            }),
        });
        self
    }

    /// Calls `callback` with the root's handle once the root's start-up is complete: every
    /// initial child started, and those with a ready timeout ready (systemd's `READY=1`, a
    /// readiness probe turning green, a line in a test).
    ///
    /// It is called at most once, on the task of [`run`](Self::run) (keep it short; spawn
    /// for longer work), and not at all if the root never completes its start-up (its start
    /// failed, or a shutdown was requested first). The root must be a supervisor (a
    /// [`Supervisor`](crate::Supervisor) or a `supervisor!` struct): for any other service
    /// there is no handle to give, so the callback is dropped with a warning; put such a
    /// service under a supervisor to be told. A later call replaces the callback.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::ExitCode;
    /// use suture::{service_fn, Runner, Supervisor, SupervisorHandle};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = Supervisor::builder("app").build().unwrap();
    /// app.add(service_fn("worker", |ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .unwrap();
    /// let (up, is_up) = tokio::sync::oneshot::channel();
    /// let code = Runner::new()
    ///     .on_ready(move |app: SupervisorHandle| {
    ///         let _ = up.send(app.name().to_owned());
    ///     })
    ///     // For the example: stop once the tree is up.
    ///     .shutdown_on(async move {
    ///         assert_eq!(is_up.await.unwrap(), "app");
    ///     })
    ///     .default_logging(false)
    ///     .run(app)
    ///     .await;
    /// assert_eq!(code, ExitCode::SUCCESS);
    /// # }
    /// ```
    pub fn on_ready(mut self, callback: impl FnOnce(SupervisorHandle) + Send + 'static) -> Self {
        self.on_ready = Some(Box::new(callback));
        self
    }

    /// Whether [`run`](Self::run) installs a `tracing-subscriber` fmt subscriber when the
    /// program has set none (default `true`).
    ///
    /// The subscriber honours `RUST_LOG` (default `info`) and writes to stderr, in colour
    /// only on a terminal and without `NO_COLOR`. A program that sets its own subscriber
    /// before `run` keeps it either way. Without the `default-logging` feature (on by
    /// default) nothing is installed and this setting does nothing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> std::process::ExitCode {
    /// # let app = suture::Supervisor::builder("app").build().unwrap();
    /// // Events still go to `tracing`; whoever subscribes shows them.
    /// suture::Runner::new().default_logging(false).run(app).await
    /// # }
    /// ```
    pub fn default_logging(mut self, install: bool) -> Self {
        self.default_logging = install;
        self
    }

    /// Whether [`run`](Self::run) tells systemd how the tree is doing (default `true`), with
    /// the `systemd` feature, on unix, when the process was started by systemd (with
    /// `NOTIFY_SOCKET` set; otherwise nothing is ever sent):
    /// - `READY=1` once the root's start-up is complete (every initial child started, those
    ///   with a ready timeout ready), when [`on_ready`](Self::on_ready) would be called; for
    ///   a `Type=notify` unit, that is when systemd considers it started;
    /// - `STATUS=` a one-line summary whenever it changes (the tree's health is looked at
    ///   every second, or every half watchdog interval), e.g. `4 running; backing off:
    ///   app/feed`, shown by `systemctl status`;
    /// - `WATCHDOG=1` every half `WATCHDOG_USEC` (`WatchdogSec=` in the unit), but only
    ///   while the root's loop answers a request within that half interval: a stuck tree
    ///   stops the pings, and systemd kills and restarts the process;
    /// - `STOPPING=1` when shutdown begins (a signal, a [`shutdown_on`](Self::shutdown_on)
    ///   trigger, or the root ending by itself), after which nothing more is sent.
    ///
    /// Without the feature, or off unix, this setting does nothing. The guide's
    /// [systemd section](crate::guide#running-under-systemd) shows the unit file.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> std::process::ExitCode {
    /// # let app = suture::Supervisor::builder("app").build().unwrap();
    /// // E.g. when the program sends its own notifications.
    /// suture::Runner::new().systemd_notify(false).run(app).await
    /// # }
    /// ```
    pub fn systemd_notify(mut self, notify: bool) -> Self {
        self.systemd_notify = notify;
        self
    }

    /// Runs `root` until it returns, until SIGINT or SIGTERM, or until a
    /// [`shutdown_on`](Self::shutdown_on) trigger completes; then cancels it, waits for its
    /// graceful shutdown, and returns the process's exit status.
    ///
    /// Exit status, for systemd's `Restart=on-failure` and Kubernetes' restarts:
    /// - **0** ([`ExitCode::SUCCESS`]): the root returned `Ok(())` and every service stopped.
    /// - **1** ([`ExitCode::FAILURE`]): the root failed: it returned an error (intensity
    ///   exceeded at the root, `TerminateTree`, any other error) or panicked. The reason is
    ///   logged. Also 1 when services would not stop (below).
    /// - **128 + signal**: a second signal forced the exit during the shutdown: 130 for
    ///   SIGINT, 143 for SIGTERM, as if the signal had killed the process.
    ///
    /// # Exiting the process itself
    ///
    /// `run` always lets the process exit, so it calls [`std::process::exit`] itself (after
    /// logging why) in two cases, where returning would hang in the runtime's drop:
    /// - at the second signal (status 130 or 143), without waiting for the tree;
    /// - once the shutdown is over with services reported unstoppable (status 1): code that
    ///   blocks a thread and ignores cancellation cannot be aborted, and the runtime's drop
    ///   would wait for it forever. Each such service is logged with its path.
    ///
    /// As with any `process::exit`, destructors of the caller's locals do not run then
    /// (flush or drop what matters, e.g. a non-blocking log writer's guard, before `run`, or
    /// from a service's own shutdown).
    ///
    /// # Threads, and the limits of a current-thread runtime
    ///
    /// The root is served on a task of its own, and the signals are watched on a dedicated OS
    /// thread (with a small runtime of its own), which cancels the root at the first signal
    /// and exits the process at the second. So on a multi-thread runtime a service that
    /// blocks its worker thread does not hold up the root or the other services (while
    /// another worker is free), and on any runtime the second signal exits even when every
    /// thread of the program's runtime is blocked.
    ///
    /// On a current-thread runtime (`#[tokio::main(flavor = "current_thread")]`), a service
    /// that blocks the thread blocks the whole tree: the first signal still cancels it, but no
    /// budget can run out and nothing can be aborted until the thread is given back, so only
    /// the second signal ends the process. On a multi-thread runtime the same holds once
    /// blocking services occupy every worker. Keep blocking code in
    /// [`spawn_blocking`](tokio::task::spawn_blocking) or on threads of its own.
    ///
    /// The signal handlers stay installed after `run` returns (tokio never removes them), so
    /// a later SIGINT or SIGTERM no longer ends the process by default.
    ///
    /// # Panics
    ///
    /// If it is not polled inside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the root's task, and with it the whole tree, and stops
    /// watching for signals.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use suture::{service_fn, Runner, Supervisor};
    ///
    /// #[tokio::main]
    /// async fn main() -> std::process::ExitCode {
    ///     let app = Supervisor::builder("app").build().unwrap();
    ///     app.add(service_fn("worker", |ctx| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     }))
    ///     .unwrap();
    ///     Runner::new().run(app).await
    /// }
    /// ```
    pub async fn run<S: Service>(self, mut root: S) -> ExitCode {
        let Runner {
            mut shutdown,
            mut on_ready,
            default_logging,
            systemd_notify,
        } = self;
        if default_logging {
            logging::install_default();
        }
        let token = CancellationToken::new();
        // Before the root starts: a signal from here on is a request to stop, not a death.
        let _watcher = match SignalWatcher::start(token.clone()).await {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(
                    target: "suture",
                    error = %error,
                    "cannot watch SIGINT and SIGTERM; the tree stops only when it ends by itself"
                );
                None
            }
        };
        let handle = root.__supervisor_handle();
        if let Some(handle) = &handle {
            // The root is served once, then dropped with the program's end.
            handle.shared.mark_last_serve();
        }
        if on_ready.is_some() && handle.is_none() {
            tracing::warn!(
                target: "suture",
                root = %root.name(),
                "the root is not a supervisor: `on_ready` has no handle to give and is not called"
            );
            on_ready = None;
        }
        let notifier = if systemd_notify {
            systemd::Notifier::start(handle.clone(), &token)
        } else {
            None
        };
        let (ready, mut ready_rx) = ReadySignal::new();
        let ctx = Context::root_with_ready(token.clone(), ready);
        let mut task = RootTask(tokio::spawn(async move { root.serve(ctx).await }));

        let mut ready_seen = false;
        let joined = loop {
            tokio::select! {
                joined = &mut task.0 => break joined,
                () = maybe(shutdown.as_mut()) => {
                    shutdown = None;
                    if !token.is_cancelled() {
                        tracing::info!(target: "suture", "shutdown requested by the program");
                        token.cancel();
                    }
                }
                ready = &mut ready_rx, if !ready_seen => {
                    ready_seen = true;
                    let callback = on_ready.take();
                    if ready.is_ok() && !token.is_cancelled() {
                        if let Some(notifier) = &notifier {
                            notifier.ready();
                        }
                        if let (Some(callback), Some(handle)) = (callback, &handle) {
                            callback(handle.clone());
                        }
                    }
                }
            }
        };
        if let Some(notifier) = notifier {
            notifier.stopping().await;
        }
        let failed = match joined {
            Ok(Ok(())) => false,
            Ok(Err(error)) => {
                tracing::error!(
                    target: "suture",
                    error = %format_args!("{error:#}"),
                    "the root failed"
                );
                true
            }
            Err(error) if error.is_panic() => {
                tracing::error!(target: "suture", error = %error, "the root panicked");
                true
            }
            Err(error) => {
                tracing::error!(target: "suture", error = %error, "the root's task was cancelled");
                true
            }
        };
        let unstopped = handle
            .map(|handle| handle.unstopped_services())
            .unwrap_or_default();
        if !unstopped.is_empty() {
            for service in &unstopped {
                tracing::error!(target: "suture", path = %service.path, "service did not stop");
            }
            tracing::error!(
                target: "suture",
                count = unstopped.len(),
                "exiting: services blocking their threads would keep the runtime from shutting down"
            );
            std::process::exit(1);
        }
        if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

impl Default for Runner {
    /// The same as [`Runner::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let _runner = suture::Runner::default();
    /// ```
    fn default() -> Self {
        Runner::new()
    }
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("shutdown_on", &self.shutdown.is_some())
            .field("on_ready", &self.on_ready.is_some())
            .field("default_logging", &self.default_logging)
            .field("systemd_notify", &self.systemd_notify)
            .finish()
    }
}

/// The root's task, aborted if `run`'s future is dropped before it ends.
struct RootTask(JoinHandle<ServiceResult>);

impl Drop for RootTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes when `future` does; never when there is none.
async fn maybe<F: Future<Output = ()> + Unpin>(future: Option<&mut F>) {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
