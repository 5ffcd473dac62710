//! A program run by `tests/systemd_notify.rs` with `NOTIFY_SOCKET` (and `WATCHDOG_USEC`)
//! pointed at a socket the test bound. Commands arrive on stdin, one a line; lines on stdout
//! tell the test where the program is, so that it never has to guess with a sleep.
//!
//! Mode `tree` (the first argument) runs:
//! - `app/db`, ready-gated, ready only at the command `ready`;
//! - `app/flaky`, which fails at once, for ever, from the command `crash` on: the root's
//!   intensity (1) is exceeded and it backs off for an hour;
//! - `app/idle`, which runs;
//!
//! and the command `stall` blocks the root's loop (its event hook blocks at the next event,
//! caused by restarting `app/idle`) until the command `release`; the command `terminate` adds
//! a child that ends the tree with `TerminateTree`.
//!
//! Mode `off` runs the same tree with `Runner::systemd_notify(false)`.
#![allow(
    clippy::print_stdout,
    reason = "stdout is how the probe talks to the test"
)]

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use suture::{ChildSpec, Context, Runner, ServiceError, Supervisor, SupervisorHandle, service_fn};
use tokio::sync::Notify;

/// The hook's gate: while closed, the next event blocks the root's loop until it opens.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn set(&self, closed: bool) {
        *self.closed.lock().expect("not poisoned") = closed;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().expect("not poisoned");
        if *closed {
            println!("stalled");
        }
        while *closed {
            closed = self.opened.wait(closed).expect("not poisoned");
        }
    }
}

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode != "tree" && mode != "off" {
        eprintln!("notify_probe: unknown mode `{mode}`");
        return ExitCode::from(2);
    }
    // Two workers: one may be blocked by the stalled loop, the other runs the notifier.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(probe(mode == "tree"))
}

async fn probe(notify: bool) -> ExitCode {
    let gate = Arc::new(Gate::default());
    let hook_gate = gate.clone();
    let app = Supervisor::builder("app")
        .intensity(1, Duration::from_secs(3600))
        .backoff(Duration::from_secs(3600))
        .event_hook(move |_event| hook_gate.pass())
        .build()
        .expect("valid settings");

    let db_ready = Arc::new(Notify::new());
    let ready = db_ready.clone();
    let db = service_fn("db", move |ctx: Context| {
        let ready = ready.clone();
        async move {
            ready.notified().await;
            println!("db ready");
            ctx.ready();
            ctx.cancelled().await;
            Ok(())
        }
    });
    app.add_with(db, ChildSpec::new().ready_within(Duration::from_secs(3600)))
        .expect("added");

    let crashing = Arc::new(AtomicBool::new(false));
    let crash_now = Arc::new(Notify::new());
    let (flag, wake) = (crashing.clone(), crash_now.clone());
    app.add(service_fn("flaky", move |ctx: Context| {
        let (flag, wake) = (flag.clone(), wake.clone());
        async move {
            if !flag.load(Ordering::SeqCst) {
                tokio::select! {
                    () = ctx.cancelled() => return Ok(()),
                    () = wake.notified() => {}
                }
            }
            Err(ServiceError::msg("flaky failed"))
        }
    }))
    .expect("added");
    let idle = app
        .add(service_fn("idle", |ctx: Context| async move {
            ctx.cancelled().await;
            Ok(())
        }))
        .expect("added");

    let root = app.handle();
    let commands = Commands {
        db_ready,
        crashing,
        crash_now,
        gate,
        root,
        idle,
    };
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || commands.read_stdin(runtime));

    Runner::new()
        .systemd_notify(notify)
        .on_ready(|app: SupervisorHandle| println!("on_ready {}", app.name()))
        .run(app)
        .await
}

struct Commands {
    db_ready: Arc<Notify>,
    crashing: Arc<AtomicBool>,
    crash_now: Arc<Notify>,
    gate: Arc<Gate>,
    root: SupervisorHandle,
    idle: suture::ChildToken,
}

impl Commands {
    fn read_stdin(self, runtime: tokio::runtime::Handle) {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                "ready" => self.db_ready.notify_one(),
                "crash" => {
                    self.crashing.store(true, Ordering::SeqCst);
                    self.crash_now.notify_one();
                }
                "stall" => {
                    self.gate.set(true);
                    // An event for the hook to block on: restarting a healthy child.
                    let (root, idle) = (self.root.clone(), self.idle);
                    runtime.spawn(async move { root.restart_child(idle).await });
                }
                "release" => self.gate.set(false),
                "terminate" => {
                    let quitter = service_fn("quitter", |_ctx: Context| async {
                        Err(ServiceError::terminate_tree())
                    });
                    if let Err(error) = self.root.add(quitter) {
                        eprintln!("notify_probe: cannot add the quitter: {error}");
                    }
                }
                other => eprintln!("notify_probe: unknown command `{other}`"),
            }
        }
    }
}
