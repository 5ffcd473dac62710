//! SIGINT and SIGTERM, watched from a thread of their own.
//!
//! The watcher runs a small current-thread tokio runtime on a dedicated OS thread, so that
//! neither the first signal (which cancels the root) nor the second (which exits the process)
//! depends on the program's runtime having a free thread: a service that blocks every worker,
//! or the one thread of a current-thread runtime, cannot keep the process from exiting.
//!
//! tokio's signal handling is process-wide: each runtime's driver reads the same
//! self-pipe and wakes every listener, whichever runtime it belongs to, so this runtime sees
//! every signal even when the program's own driver is starved.

use std::io;
use std::thread;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// Watches SIGINT and SIGTERM until dropped: the first cancels the root's token, the second
/// exits the process with 128 + its number.
#[derive(Debug)]
pub(super) struct SignalWatcher {
    /// Dropped with the watcher, which ends its thread.
    _done: oneshot::Sender<()>,
}

impl SignalWatcher {
    /// Starts the watcher and returns once its signal handlers are installed.
    pub(super) async fn start(token: CancellationToken) -> io::Result<Self> {
        let (installed_tx, installed_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        // The thread logs with the subscriber of the caller, scoped ones included.
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        thread::Builder::new()
            .name("suture-signals".into())
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    watch(token, installed_tx, done_rx);
                });
            })?;
        match installed_rx.await {
            Ok(Ok(())) => Ok(SignalWatcher { _done: done_tx }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(io::Error::other("the signal thread ended early")),
        }
    }
}

/// The watcher thread's body: returns when `done` resolves (its sender dropped).
fn watch(
    token: CancellationToken,
    installed: oneshot::Sender<io::Result<()>>,
    mut done: oneshot::Receiver<()>,
) {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    // Unix signals arrive through the I/O driver's self-pipe; Windows needs no driver.
    #[cfg(unix)]
    builder.enable_io();
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = installed.send(Err(error));
            return;
        }
    };
    runtime.block_on(async move {
        let mut signals = match Signals::new() {
            Ok(signals) => signals,
            Err(error) => {
                let _ = installed.send(Err(error));
                return;
            }
        };
        let _ = installed.send(Ok(()));
        let first = tokio::select! {
            _ = &mut done => return,
            first = signals.next() => first,
        };
        tracing::info!(
            target: "suture",
            signal = first.name(),
            "shutdown requested; a second signal forces the exit"
        );
        token.cancel();
        let second = tokio::select! {
            _ = &mut done => return,
            second = signals.next() => second,
        };
        tracing::error!(
            target: "suture",
            signal = second.name(),
            exit_code = second.exit_code(),
            "second signal: exiting without waiting for the tree"
        );
        std::process::exit(second.exit_code());
    });
}

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy)]
enum Received {
    Interrupt,
    #[cfg_attr(not(unix), allow(dead_code))]
    Terminate,
}

impl Received {
    fn name(self) -> &'static str {
        match self {
            Received::Interrupt => "SIGINT",
            Received::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as a shell reports a death by that signal.
    fn exit_code(self) -> i32 {
        match self {
            Received::Interrupt => 128 + 2,
            Received::Terminate => 128 + 15,
        }
    }
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Received {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Received::Interrupt,
            Some(()) = self.terminate.recv() => Received::Terminate,
            // Both streams ended: the driver is gone, no signal can come any more.
            else => std::future::pending().await,
        }
    }
}

#[cfg(windows)]
struct Signals {
    ctrl_c: tokio::signal::windows::CtrlC,
}

#[cfg(windows)]
impl Signals {
    fn new() -> io::Result<Self> {
        Ok(Signals {
            ctrl_c: tokio::signal::windows::ctrl_c()?,
        })
    }

    async fn next(&mut self) -> Received {
        match self.ctrl_c.recv().await {
            Some(()) => Received::Interrupt,
            None => std::future::pending().await,
        }
    }
}

#[cfg(not(any(unix, windows)))]
struct Signals;

#[cfg(not(any(unix, windows)))]
impl Signals {
    fn new() -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no signals on this platform",
        ))
    }

    async fn next(&mut self) -> Received {
        std::future::pending().await
    }
}
