//! The one async loop of a supervisor: it waits on everything at once (cancellation, ends
//! of runs, readiness, commands, the next deadline) and feeds each to the state machine.
//!
//! Everything it waits on is an inbox, a token or one armed timer: an idle tree makes no
//! wake-ups.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Poll, Waker};

use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::Supervisor;
use super::handle::{Command, Lifecycle};
use super::inbox::{self, Inbox};
use super::machine::{Launch, Spawn, StopReason};
use super::report::Reporter;
use crate::context::{Context, HealthLink, Links, ReadySignal};
use crate::error::{IntensityExceeded, ServiceError, ServiceResult, SupervisorError};
use crate::event::EventSink;
use crate::health::Health;
use crate::panic;
use crate::service::{DynService, Exit, FromChild};

pub(super) async fn serve(
    sup: &mut Supervisor,
    ctx: Context,
    started: Option<oneshot::Sender<()>>,
) -> ServiceResult {
    let shared = sup.shared.clone();
    {
        let mut lifecycle = shared.lifecycle();
        if matches!(*lifecycle, Lifecycle::Running | Lifecycle::Stopping) {
            return Err(ServiceError::new(SupervisorError::AlreadyRunning {
                supervisor: shared.name(),
            }));
        }
        *lifecycle = Lifecycle::Running;
        // From here on, children added come as commands: the ones added while idle are
        // taken now, under the same lock, all at once.
        sup.machine.adopt(std::mem::take(&mut *shared.pending()));
    }
    shared.unstopped().clear();
    panic::install_hook();
    // A child's context already carries its path (under the name its parent gave it).
    let path: Arc<str> = match ctx.path() {
        "" => shared.name.clone(),
        path => Arc::from(path),
    };
    let sink = EventSink::new(shared.config.hook.clone(), ctx.events().cloned());
    let mut driver = Driver {
        sup,
        ctx,
        started,
        settled: false,
    };
    let ending = driver.run(Reporter::new(path.clone(), sink)).await;
    driver.finish(ending, &path)
}

struct Driver<'a> {
    sup: &'a mut Supervisor,
    ctx: Context,
    /// Told once start-up is complete (for `serve_background`).
    started: Option<oneshot::Sender<()>>,
    /// Set once the serve ended normally: nothing runs any more.
    settled: bool,
}

/// From how many children still stopping the loop lets their tasks run before taking their
/// next ends. Below a few hundred the yields cost more than they gather: a supervisor of 100
/// supervisors, whose ends come far apart, stopped about 10% slower in W3.
const GATHER_ENDS_FROM: usize = 256;

/// Starts runs: the effect the machine cannot have without the runtime.
struct Spawner<'a> {
    /// Taken once per serve: spawning through it skips the thread-local look-up and the
    /// copies of the future that `tokio::spawn` makes on its way (5% fewer instructions
    /// per child at a pool's start-up).
    runtime: tokio::runtime::Handle,
    sink: Arc<EventSink>,
    /// Where the runs report (see [`FromChild`]).
    to_parent: &'a inbox::Sender<FromChild>,
}

impl Spawn for Spawner<'_> {
    fn spawn(&mut self, launch: Launch, service: Box<dyn DynService>) -> Option<AbortHandle> {
        let Launch {
            id,
            runs,
            first,
            token,
            path,
            ready_gated,
            nested,
        } = launch;
        // The run's own span, at the root (its path says where it is): what a service logs is
        // attributed to it. Nothing is built or formatted unless a subscriber is interested.
        let span = tracing::info_span!(
            target: "suture",
            parent: None,
            "service",
            path = %path,
            incarnation = runs,
        );
        // A supervisor served below chains its events to these hooks: a child supervisor, or
        // one inside a service of the user's own (which cannot be told apart), so every child
        // gets them while some hook listens. Links cost one allocation: a plain child in a
        // tree without hooks has none.
        let events = self.sink.is_active().then(|| self.sink.clone());
        let links = (ready_gated || nested || events.is_some()).then(|| Links {
            ready: ready_gated.then(|| ReadySignal::for_child(self.to_parent.clone(), id, runs)),
            events,
            health: nested.then(|| HealthLink {
                parent: self.to_parent.clone(),
                child: id,
            }),
        });
        let ctx = Context::child(token, path, links);
        Some(service.spawn(id, ctx, self.to_parent.clone(), span, !first, &self.runtime))
    }
}

impl Driver<'_> {
    async fn run(&mut self, report: Reporter) -> StopReason {
        let sink = report.sink().clone();
        let Supervisor {
            shared,
            commands,
            machine,
            from_children: (to_parent, from_children),
        } = &mut *self.sup;
        let mut spawner = Spawner {
            runtime: tokio::runtime::Handle::current(),
            sink,
            to_parent,
        };
        let now = Instant::now();
        // Runs aborted with a previous serve hand their services back here; what else they
        // said belongs to that serve.
        while let Some(message) = from_children.try_recv() {
            if let FromChild::Ended(Exit {
                id,
                service,
                outcome,
            }) = message
            {
                machine.on_exit(id, service, outcome, now, &mut spawner);
            }
        }
        take_commands_while_idle(commands, machine, shared);
        machine.begin(report, now, &mut spawner);
        // One registration with the token for the whole loop, not one per event.
        let mut cancelled = pin!(self.ctx.token.clone().cancelled_owned());
        let mut registered: Option<Waker> = None;
        // One timer for the whole loop, moved only when the next deadline moves.
        let mut timer = pin!(sleep_until(now));
        let mut armed = None;
        // Set after a batch of ends while many more are on their way (see below).
        let mut burst = false;
        loop {
            // Published first: whoever learns that start-up is complete reads its health.
            machine.publish_gauges();
            if machine.publish_health()
                && let Some(parent) = self.ctx.health()
            {
                parent.notify();
            }
            if machine.take_started() {
                // A supervisor is ready once its initial children have started (those with
                // a ready timeout being ready): a parent that gave it a ready timeout starts
                // its next child only then, as OTP starts a subtree before its next sibling.
                self.ctx.ready();
                if let Some(started) = self.started.take() {
                    let _ = started.send(());
                }
            }
            if let Some(ending) = machine.take_ending() {
                return ending;
            }
            let wakeup = machine.next_wakeup();
            if wakeup != armed {
                if let Some(at) = wakeup {
                    timer.as_mut().reset(at);
                }
                armed = wakeup;
            }
            if std::mem::take(&mut burst) {
                // Children told to stop end one after another, each on a task scheduled
                // before this loop's next turn. Waiting on the inbox, the loop would be woken
                // by each end, and tokio runs a task woken by the running one next: a large
                // pool's stop would cost a turn of this loop per child. Letting the queued
                // tasks run first, their ends are taken together.
                tokio::task::yield_now().await;
            }
            let stopping = machine.is_stopping();
            tokio::select! {
                biased;
                () = poll_fn(|cx| poll_cancelled(&self.ctx.token, cancelled.as_mut(), &mut registered, cx)),
                    if !stopping => machine.on_cancel(Instant::now()),
                message = poll_fn(|cx| from_children.poll_recv(cx)) => {
                    let now = Instant::now();
                    // Take the whole burst the inbox took before waiting again: a large pool
                    // stopping at once sends thousands of ends. What came since is taken on
                    // the next turn, with one lock for it all.
                    let mut next = Some(message);
                    while let Some(message) = next {
                        match message {
                            FromChild::Ended(Exit { id, service, outcome }) => {
                                machine.on_exit(id, service, outcome, now, &mut spawner);
                            }
                            FromChild::Ready { id, run } => {
                                machine.on_ready(id, run, now, &mut spawner);
                            }
                            FromChild::HealthChanged(id) => machine.on_child_health(id),
                        }
                        next = if self.ctx.is_cancelled() && !machine.is_stopping() {
                            None // cancellation first, as the biased select would
                        } else {
                            from_children.next_taken()
                        };
                    }
                    burst = machine.children_stopping() >= GATHER_ENDS_FROM;
                }
                command = poll_fn(|cx| commands.poll_recv(cx)) => {
                    machine.on_command(command, Instant::now(), &mut spawner);
                }
                () = timer.as_mut(), if armed.is_some() => {
                    armed = None;
                    machine.on_time(Instant::now(), &mut spawner);
                }
            }
        }
    }

    fn finish(&mut self, ending: StopReason, path: &str) -> ServiceResult {
        self.settled = true;
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        let shared = self.sup.shared.clone();
        let config = &shared.config;
        // The subtree's report: children that are supervisors kept their own.
        let nested = self.sup.machine.nested_unstopped();
        shared.unstopped().extend(nested);
        let stops = self.sup.machine.stop_tally();
        *shared.stops() = stops;
        if self.ctx.health().is_none() {
            // The root: one line for the whole tree.
            tracing::info!(
                target: "suture",
                supervisor = %path,
                stopped_cleanly = stops.clean,
                aborted = stops.aborted,
                unstoppable = stops.unstoppable,
                "tree stopped"
            );
        }
        let for_good = ending.is_final(shared.is_last_serve());
        let result = match ending {
            StopReason::Cancelled | StopReason::AutoShutdown => Ok(()),
            StopReason::TerminateTree if config.propagate_termination => {
                Err(ServiceError::terminate_tree())
            }
            StopReason::TerminateTree => Err(ServiceError::do_not_restart()),
            StopReason::Escalate { failures } => Err(ServiceError::new(IntensityExceeded {
                supervisor: path.to_string(),
                failures,
                threshold: config.threshold,
            })),
            StopReason::Panic(payload) => {
                self.set_health(Health::Failed);
                self.close(Lifecycle::Idle);
                std::panic::resume_unwind(payload);
            }
        };
        // A failed supervisor may be restarted by its parent: keep taking children meanwhile.
        let failed = result
            .as_ref()
            .is_err_and(|e| !e.is_do_not_restart() && !e.is_terminate_tree());
        self.set_health(if failed {
            Health::Failed
        } else {
            Health::Stopped
        });
        // Cancelled by a parent that keeps it (to stop or restart it), it is not finished
        // either: it is idle until served again, or let go.
        self.close(if failed || !for_good {
            Lifecycle::Idle
        } else {
            Lifecycle::Finished
        });
        result
    }

    /// Publishes the health the serve ends with, and tells the parent.
    fn set_health(&self, health: Health) {
        if self.sup.shared.set_health(health)
            && let Some(parent) = self.ctx.health()
        {
            parent.notify();
        }
    }

    /// Leaves the running state, then answers what was sent meanwhile.
    fn close(&mut self, lifecycle: Lifecycle) {
        let sup = &mut *self.sup;
        *sup.shared.lifecycle() = lifecycle;
        // Requests are only sent while running, under the lock just taken: all are here.
        take_commands_while_idle(&mut sup.commands, &mut sup.machine, &sup.shared);
        sup.machine.release_buffers();
        sup.commands.release_buffers();
        sup.from_children.1.release_buffers();
    }
}

impl Drop for Driver<'_> {
    /// Runs when the serve is dropped mid-way (its task aborted): no child may outlive it,
    /// and none may be lost (see `Machine::abandon`).
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.sup.machine.abandon(Instant::now());
        self.set_health(Health::Stopped);
        // No request may be left hanging: those waiting for a stop are refused here, those
        // not read yet by `close`.
        let refusal = self.sup.shared.refusal();
        self.sup.machine.refuse_waiters(&refusal);
        // Mid-serve, it was running or stopping: it may be served again.
        self.close(Lifecycle::Idle);
    }
}

/// Polls the serve's cancellation, re-registering with the token only when the loop's waker
/// changed: a registration takes the token's lock, and a crash loop wakes the loop twice
/// per restart. Between registrations, the token's flag says whether it fired.
fn poll_cancelled(
    token: &CancellationToken,
    wait: Pin<&mut WaitForCancellationFutureOwned>,
    registered: &mut Option<Waker>,
    cx: &mut std::task::Context<'_>,
) -> Poll<()> {
    if token.is_cancelled() {
        return Poll::Ready(());
    }
    if registered
        .as_ref()
        .is_some_and(|waker| waker.will_wake(cx.waker()))
    {
        return Poll::Pending;
    }
    let poll = wait.poll(cx);
    if poll.is_pending() {
        *registered = Some(cx.waker().clone());
    }
    poll
}

/// Takes what was sent before the loop began: children added since the serve took the idle
/// ones, and requests, which are refused (they were made to a supervisor not running).
fn take_commands_while_idle(
    commands: &mut Inbox<Command>,
    machine: &mut super::machine::Machine,
    shared: &super::handle::Shared,
) {
    while let Some(command) = commands.try_recv() {
        match command {
            Command::Add { id, child } => machine.add(id, child),
            Command::Remove { reply, .. } | Command::Control { reply, .. } => {
                let _ = reply.send(Err(shared.refusal()));
            }
            // Dropping the reply tells the caller the loop is not running.
            Command::Children { .. } => {}
        }
    }
}
