//! The supervisor loop: starting, watching, restarting and stopping children.
//!
//! One task per supervisor owns all bookkeeping. Every incarnation of a child reports its end
//! on one channel, handing its service back, so the loop never shares a child with anyone.
//! Everything the loop waits on is a channel, a token or an armed deadline: an idle tree
//! makes no wake-ups.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::{Future, pending};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::{Child, Command, Config, Lifecycle, Shared, Supervisor, budget};
use crate::context::{Context, ReadySignal};
use crate::error::{IntensityExceeded, NotReady, ServiceError, ServiceResult, SupervisorError};
use crate::event::{Event, EventKind, EventSink, Restarting};
use crate::panic::{self, PanicReport};
use crate::service::{Exit, Outcome};
use crate::spec::{AutoShutdown, OnExceeded, Restart, Shutdown, ShutdownOrder, Strategy};
use crate::tree::{ChildInfo, ChildState, UnstoppedService};

/// How long an aborted task gets to finish before it is reported as unstopped: an abort
/// only lands at the task's next `.await`, which code blocking a thread never reaches.
const ABORT_GRACE: Duration = Duration::from_millis(100);

/// The running incarnation of a child.
pub(crate) struct Run {
    token: CancellationToken,
    /// Only to abort: the task's end is reported on the exit channel.
    task: AbortHandle,
    since: Instant,
    stop: Option<Stop>,
}

/// A child told to stop. (Who waits for it is kept by the loop, in `waiters`: rare, and a
/// pool of a million children keeps a million of these.)
struct Stop {
    deadline: Option<Instant>,
    aborted: bool,
}

type Waiter = oneshot::Sender<Result<(), SupervisorError>>;

/// Why the loop ends.
enum Ending {
    Cancelled,
    TerminateTree,
    Escalate { failures: f64 },
    AutoShutdown,
    Panic(Box<dyn Any + Send>),
}

/// How a child's incarnation ended, as the policy sees it.
enum End {
    Normal,
    Failed(Arc<ServiceError>),
    Panicked(Box<PanicReport>),
    DoNotRestart,
    TerminateTree,
}

pub(super) async fn serve(
    sup: &mut Supervisor,
    ctx: Context,
    started: Option<oneshot::Sender<()>>,
) -> ServiceResult {
    let shared = sup.shared.clone();
    {
        let mut lifecycle = shared.lifecycle();
        if *lifecycle == Lifecycle::Running {
            return Err(ServiceError::new(SupervisorError::AlreadyRunning {
                supervisor: shared.name(),
            }));
        }
        *lifecycle = Lifecycle::Running;
    }
    shared.unstopped().clear();
    panic::install_hook();
    // A child's context already carries its path (under the name its parent gave it).
    let path: Arc<str> = if ctx.path.is_empty() {
        shared.name.clone()
    } else {
        ctx.path.clone()
    };
    let sink = EventSink::new(shared.config.hook.clone(), ctx.events.clone());
    let (exit_tx, exit_rx) = mpsc::unbounded_channel();
    let mut runner = Runner {
        sup,
        shared,
        ctx,
        path,
        sink,
        exit_tx,
        exit_rx,
        deferred: VecDeque::new(),
        detached: HashMap::new(),
        deadlines: BTreeMap::new(),
        stopping: 0,
        failures: 0.0,
        last_failure: None,
        backoff_until: None,
        queue: VecDeque::new(),
        settled: false,
        waiters: HashMap::new(),
        last_path: None,
    };
    let ending = runner.run(started).await;
    runner.shutdown_children().await;
    let result = match ending {
        Ending::Cancelled | Ending::AutoShutdown => Ok(()),
        Ending::TerminateTree if runner.shared.config.propagate_termination => {
            Err(ServiceError::terminate_tree())
        }
        Ending::TerminateTree => Err(ServiceError::do_not_restart()),
        Ending::Escalate { failures } => Err(ServiceError::new(IntensityExceeded {
            supervisor: runner.path.to_string(),
            failures,
            threshold: runner.shared.config.threshold,
        })),
        Ending::Panic(payload) => {
            runner.close(Lifecycle::Idle);
            std::panic::resume_unwind(payload);
        }
    };
    // A failed supervisor may be restarted by its parent: keep taking children meanwhile.
    let failed = result
        .as_ref()
        .is_err_and(|e| !e.is_do_not_restart() && !e.is_terminate_tree());
    runner.close(if failed {
        Lifecycle::Idle
    } else {
        Lifecycle::Stopped
    });
    result
}

struct Runner<'a> {
    sup: &'a mut Supervisor,
    shared: Arc<Shared>,
    ctx: Context,
    path: Arc<str>,
    sink: Arc<EventSink>,
    exit_tx: mpsc::UnboundedSender<Exit>,
    exit_rx: mpsc::UnboundedReceiver<Exit>,
    /// Ends that arrived while the loop waited for something else, handled in order next.
    deferred: VecDeque<Exit>,
    /// Removed children that are still stopping.
    detached: HashMap<u64, Box<Child>>,
    /// Stop deadlines, grouped: children stopped together share one entry.
    deadlines: BTreeMap<Instant, Vec<u64>>,
    /// How many children (attached or detached) are stopping.
    stopping: usize,
    failures: f64,
    last_failure: Option<Instant>,
    backoff_until: Option<Instant>,
    /// Children waiting for the backoff to end, in the order they failed.
    queue: VecDeque<u64>,
    /// Set once `shutdown_children` has stopped every child.
    settled: bool,
    /// Who waits for a stopping child, by child (`remove_and_wait`).
    waiters: HashMap<u64, Vec<Waiter>>,
    /// The last path built, with the name it was built for.
    last_path: Option<(Arc<str>, Arc<str>)>,
}

impl Runner<'_> {
    async fn run(&mut self, started: Option<oneshot::Sender<()>>) -> Ending {
        self.take_commands_while_idle();
        // Children whose service was lost (their task was aborted with our last run) cannot
        // start again; they were reported then.
        // One pass: with a large pool, each pass over the children is a cache miss per child.
        self.sup.children.retain(|_, c| {
            c.path = None;
            c.state = ChildState::Stopped;
            c.service.is_some()
        });
        let ids: Vec<u64> = self.sup.children.keys().copied().collect();
        let start = self.start_children(&ids).await;
        if let Some(started) = started {
            let _ = started.send(());
        }
        if let Some(ending) = start {
            return ending;
        }
        // A supervisor is ready once its initial children have started (those with a ready
        // timeout being ready): a parent that gave it a ready timeout starts its next child
        // only then, as OTP starts a subtree before its next sibling.
        self.ctx.ready();
        // One registration with the token for the whole loop, not one per event.
        let mut cancelled = pin!(self.ctx.token.clone().cancelled_owned());
        loop {
            if let Some(exit) = self.deferred.pop_front() {
                // As the `select!` below would, look at cancellation before each end.
                if self.ctx.is_cancelled() {
                    self.deferred.push_front(exit);
                    return Ending::Cancelled;
                }
                if let Some(ending) = self.handle_end(exit).await {
                    return ending;
                }
                continue;
            }
            let stop_deadline = self.next_deadline();
            let backoff_until = self.backoff_until;
            tokio::select! {
                biased;
                _ = cancelled.as_mut() => return Ending::Cancelled,
                Some(exit) = self.exit_rx.recv() => {
                    if let Some(exit) = self.on_exit(exit)
                        && let Some(ending) = self.handle_end(exit).await
                    {
                        return ending;
                    }
                }
                Some(command) = self.sup.commands.recv() => {
                    if let Some(ending) = self.handle_command(command).await {
                        return ending;
                    }
                }
                _ = maybe_sleep(backoff_until) => {
                    if let Some(ending) = self.resume().await {
                        return ending;
                    }
                }
                _ = maybe_sleep(stop_deadline) => self.on_deadline(Instant::now()),
            }
        }
    }

    /// Takes the children added while the loop was not running.
    fn take_commands_while_idle(&mut self) {
        let mut added = Vec::new();
        while let Ok(command) = self.sup.commands.try_recv() {
            match command {
                Command::Add { id, child } => added.push((id, child)),
                Command::Remove { reply, .. } => {
                    let _ = reply.send(Err(SupervisorError::NotRunning {
                        supervisor: self.shared.name(),
                    }));
                }
                // Dropping the reply tells the caller the loop is not running.
                Command::Children { .. } => {}
            }
        }
        if self.sup.children.is_empty() {
            // Built in one go rather than searched into one by one: a pool filled before its
            // first serve may hold a million children.
            self.sup.children = added.into_iter().collect();
        } else {
            self.sup.children.extend(added);
        }
    }

    /// Leaves the running state, then answers what was sent meanwhile.
    fn close(&mut self, lifecycle: Lifecycle) {
        *self.shared.lifecycle() = lifecycle;
        // Requests are only sent while `Running`, under the lock just taken: all are here.
        // (Every child is already `Stopped`: `shutdown_children` saw to it.)
        self.take_commands_while_idle();
    }

    // ---- starting -------------------------------------------------------------------

    async fn start_children(&mut self, ids: &[u64]) -> Option<Ending> {
        for &id in ids {
            if self.ctx.is_cancelled() {
                return Some(Ending::Cancelled);
            }
            if let Some(ending) = self.start_child(id).await {
                return Some(ending);
            }
        }
        None
    }

    /// Starts one child; with a ready timeout, waits until it is ready, fails, or times out.
    async fn start_child(&mut self, id: u64) -> Option<Ending> {
        let (sup_path, last_path) = (&self.path, &mut self.last_path);
        let child = self.sup.children.get_mut(&id)?;
        if child.run.is_some() {
            return None;
        }
        let service = child.service.take()?;
        let path = child
            .path
            .get_or_insert_with(|| match last_path {
                // Siblings sharing a name share their path too.
                Some((name, path)) if Arc::ptr_eq(name, &child.name) => path.clone(),
                _ => {
                    let path = join_path(sup_path, &child.name);
                    *last_path = Some((child.name.clone(), path.clone()));
                    path
                }
            })
            .clone();
        let ready_timeout = child.policy.ready;
        let (ready, ready_rx) = match ready_timeout {
            Some(_) => {
                let (signal, rx) = ReadySignal::new();
                (Some(signal), Some(rx))
            }
            None => (None, None),
        };
        let token = child.spare_token.take().unwrap_or_default();
        let ctx = self
            .ctx
            .child(token.clone(), path, ready, Some(self.sink.clone()));
        let task = service.spawn(id, ctx, self.exit_tx.clone());
        child.run = Some(Run {
            token,
            task,
            since: Instant::now(),
            stop: None,
        });
        if child.started_once {
            child.restarts += 1;
        }
        child.started_once = true;
        child.state = if ready_timeout.is_some() {
            ChildState::Starting
        } else {
            ChildState::Running
        };
        let (name, restarts) = (child.name.clone(), child.restarts);
        tracing::debug!(target: "suture", supervisor = %self.path, service = %name, restarts, "service started");
        self.emit(|| EventKind::Started {
            service: name,
            restarts,
        });
        match (ready_timeout, ready_rx) {
            (Some(timeout), Some(rx)) => self.wait_ready(id, rx, timeout).await,
            _ => None,
        }
    }

    async fn wait_ready(
        &mut self,
        id: u64,
        rx: oneshot::Receiver<()>,
        timeout: Duration,
    ) -> Option<Ending> {
        let deadline = Instant::now() + timeout;
        let mut ready = Some(rx);
        loop {
            let stop_deadline = self.next_deadline();
            tokio::select! {
                biased;
                _ = self.ctx.token.cancelled() => return Some(Ending::Cancelled),
                signal = maybe(ready.as_mut()) => match signal {
                    Ok(()) => {
                        if let Some(child) = self.sup.children.get_mut(&id) {
                            child.state = ChildState::Running;
                        }
                        return None;
                    }
                    // Its context is gone: it ended, and its exit is on the way.
                    Err(_) => ready = None,
                },
                Some(exit) = self.exit_rx.recv() => {
                    if let Some(exit) = self.on_exit(exit) {
                        let own = exit.id == id;
                        // Failing before ready is handled by the normal policy.
                        self.deferred.push_back(exit);
                        if own {
                            return None;
                        }
                    }
                }
                _ = maybe_sleep(stop_deadline) => self.on_deadline(Instant::now()),
                _ = sleep_until(deadline) => {
                    self.begin_stop(id, Instant::now(), None);
                    self.wait_stopped(Some(id)).await;
                    self.deferred.push_back(Exit {
                        id,
                        service: None,
                        outcome: Outcome::Returned(Err(ServiceError::new(NotReady(timeout)))),
                    });
                    return None;
                }
            }
        }
    }

    // ---- the policy -----------------------------------------------------------------

    /// Applies the policy to a child that ended on its own.
    async fn handle_end(&mut self, exit: Exit) -> Option<Ending> {
        let id = exit.id;
        let config = &self.shared.config;
        let child = self.sup.children.get_mut(&id)?;
        // A child that ended by itself was not told to stop: its token can serve the next
        // incarnation, which saves an allocation per restart.
        child.spare_token = child
            .run
            .take()
            .map(|run| run.token)
            .filter(|token| !token.is_cancelled());
        if let Some(service) = exit.service {
            child.service = Some(service);
        }
        let end = match exit.outcome {
            Outcome::Returned(Ok(())) => End::Normal,
            Outcome::Returned(Err(e)) if e.is_do_not_restart() => End::DoNotRestart,
            Outcome::Returned(Err(e)) if e.is_terminate_tree() => End::TerminateTree,
            Outcome::Returned(Err(e)) => End::Failed(Arc::new(e)),
            Outcome::Panicked(report) => End::Panicked(report),
            Outcome::Aborted => End::Failed(Arc::new(ServiceError::msg(
                "the service's task was aborted",
            ))),
        };
        let name = child.name.clone();
        let restart = child.policy.restart;
        let significant = child.policy.significant;
        match &end {
            // Formatted only when a snapshot asks: a crash loop need not format every error.
            End::Failed(e) => child.last_error = Some(LastError::Failed(e.clone())),
            End::Panicked(r) => child.last_error = Some(LastError::Panicked(r.message.clone())),
            _ => {}
        }
        if matches!(end, End::TerminateTree) {
            child.state = ChildState::Stopped;
            tracing::warn!(target: "suture", supervisor = %self.path, service = %name, "service asked to terminate the tree");
            self.emit(|| EventKind::TreeTerminated { service: name });
            return Some(Ending::TerminateTree);
        }
        let end = match end {
            End::Panicked(report) if config.pass_through_panics => {
                child.state = ChildState::Stopped;
                self.report_end(
                    &name,
                    &End::Panicked(Box::new(report.clone_without_payload())),
                    Restarting::No,
                );
                return Some(Ending::Panic(report.payload));
            }
            end => end,
        };
        let restarts = match (&end, restart) {
            (End::DoNotRestart, _) => false,
            (End::Normal, Restart::Permanent) => true,
            (End::Normal, _) => false,
            (_, Restart::Temporary) => false,
            _ => true,
        };
        if !restarts {
            self.report_end(&name, &end, Restarting::No);
            if restart == Restart::Temporary || matches!(end, End::DoNotRestart) {
                self.forget(id);
            } else if let Some(child) = self.sup.children.get_mut(&id) {
                child.state = ChildState::Stopped;
            }
            if significant && self.auto_shutdown_due() {
                tracing::info!(target: "suture", supervisor = %self.path, service = %name, "significant child finished, shutting down");
                return Some(Ending::AutoShutdown);
            }
            return None;
        }
        // Every restart counts toward intensity, whatever caused it.
        let exceeded = self.count_failure();
        if exceeded && self.shared.config.on_exceeded == OnExceeded::Escalate {
            self.report_end(&name, &end, Restarting::No);
            let (failures, threshold) = (self.failures, self.shared.config.threshold);
            tracing::error!(target: "suture", supervisor = %self.path, failures, threshold, "restart intensity exceeded, escalating");
            self.emit(|| EventKind::Escalated {
                failures,
                threshold,
            });
            return Some(Ending::Escalate { failures });
        }
        if exceeded {
            self.arm_backoff();
        }
        if self.backoff_until.is_some() {
            self.report_end(&name, &end, Restarting::AfterBackoff);
            let group = self.stop_group(id).await;
            for &member in &group {
                if let Some(child) = self.sup.children.get_mut(&member) {
                    child.state = ChildState::BackedOff;
                }
            }
            self.queue.extend(group);
            return None;
        }
        self.report_end(&name, &end, Restarting::Now);
        if self.shared.config.strategy == Strategy::OneForOne {
            // The common case, and a crash loop's: no group to gather. (The loop looked at
            // cancellation just before taking this end.)
            return self.start_child(id).await;
        }
        let group = self.stop_group(id).await;
        self.start_children(&group).await
    }

    /// Stops the siblings that restart with `failed` (reverse start order, each within its
    /// budget) and returns who restarts, in start order. Temporary siblings are dropped.
    async fn stop_group(&mut self, failed: u64) -> Vec<u64> {
        let members: Vec<u64> = match self.shared.config.strategy {
            Strategy::OneForOne => return vec![failed],
            Strategy::OneForAll => self.sup.children.keys().copied().collect(),
            Strategy::RestForOne => self
                .sup
                .children
                .range(failed..)
                .map(|(&id, _)| id)
                .collect(),
        };
        let mut restart = Vec::with_capacity(members.len());
        for &id in members.iter().rev() {
            if id == failed {
                restart.push(id);
                continue;
            }
            let Some(child) = self.sup.children.get_mut(&id) else {
                continue;
            };
            if child.run.is_none() {
                // Finished or already queued: left as it is.
                continue;
            }
            self.begin_stop(id, Instant::now(), None);
            self.wait_stopped(Some(id)).await;
            let Some(child) = self.sup.children.get_mut(&id) else {
                continue;
            };
            if child.policy.restart == Restart::Temporary {
                self.forget(id);
            } else {
                child.state = ChildState::Restarting;
                restart.push(id);
            }
        }
        restart.reverse();
        restart
    }

    /// Updates the decayed failure count; says whether it now exceeds the threshold.
    fn count_failure(&mut self) -> bool {
        let now = Instant::now();
        let config = &self.shared.config;
        self.failures = match self.last_failure {
            None => 1.0,
            Some(last) => {
                let elapsed = now.saturating_duration_since(last).as_secs_f64();
                self.failures * 0.5f64.powf(elapsed / config.half_life.as_secs_f64()) + 1.0
            }
        };
        self.last_failure = Some(now);
        self.failures > config.threshold
    }

    /// Starts or re-arms the backoff pause.
    fn arm_backoff(&mut self) {
        let config = &self.shared.config;
        let factor = 1.0 + fastrand::f64() * config.jitter;
        let pause = config.backoff.mul_f64(factor);
        self.backoff_until = Some(Instant::now() + pause);
        let failures = self.failures;
        tracing::warn!(target: "suture", supervisor = %self.path, failures, ?pause, "restart intensity exceeded, backing off");
        self.emit(|| EventKind::BackoffStarted { pause, failures });
    }

    async fn resume(&mut self) -> Option<Ending> {
        self.backoff_until = None;
        self.failures = 0.0;
        tracing::info!(target: "suture", supervisor = %self.path, "backoff ended, resuming restarts");
        self.emit(|| EventKind::BackoffEnded);
        let mut seen = HashSet::new();
        let queued: Vec<u64> = self.queue.drain(..).filter(|id| seen.insert(*id)).collect();
        self.start_children(&queued).await
    }

    fn auto_shutdown_due(&self) -> bool {
        match self.shared.config.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .sup
                .children
                .values()
                .any(|c| c.policy.significant && c.state != ChildState::Stopped),
        }
    }

    /// Drops a child for good, telling it if it is a supervisor.
    fn forget(&mut self, id: u64) {
        if let Some(child) = self.sup.children.remove(&id)
            && let Some(handle) = &child.supervisor
        {
            handle.mark_stopped();
        }
    }

    // ---- commands -------------------------------------------------------------------

    async fn handle_command(&mut self, command: Command) -> Option<Ending> {
        match command {
            Command::Add { id, child } => {
                self.sup.children.insert(id, child);
                self.start_child(id).await
            }
            Command::Remove { id, reply, stopped } => {
                let result = self.remove(id, stopped);
                let _ = reply.send(result);
                None
            }
            Command::Children { reply } => {
                let now = Instant::now();
                let sup = self.shared.clone();
                let infos = self
                    .sup
                    .children
                    .iter()
                    .map(|(&id, c)| ChildInfo {
                        token: sup.token(id),
                        name: c.name.to_string(),
                        path: format!("{}/{}", self.path, c.name),
                        state: c.state,
                        restart: c.policy.restart,
                        restarts: c.restarts,
                        last_error: c.last_error.as_ref().map(LastError::text),
                        uptime: c
                            .run
                            .as_ref()
                            .map(|r| now.saturating_duration_since(r.since)),
                        supervisor: c.supervisor.clone(),
                    })
                    .collect();
                let _ = reply.send(infos);
                None
            }
        }
    }

    fn remove(&mut self, id: u64, stopped: Option<Waiter>) -> Result<(), SupervisorError> {
        let Some(mut child) = self.sup.children.remove(&id) else {
            return Err(SupervisorError::UnknownChild {
                supervisor: self.shared.name(),
            });
        };
        if let Some(handle) = &child.supervisor {
            handle.mark_stopped();
        }
        match &mut child.run {
            Some(run) => {
                if let Some(waiter) = stopped {
                    match &mut run.stop {
                        Some(_) => self.waiters.entry(id).or_default().push(waiter),
                        None => {
                            self.detached.insert(id, child);
                            self.begin_stop(id, Instant::now(), Some(waiter));
                            return Ok(());
                        }
                    }
                }
                let already_stopping = run.stop.is_some();
                self.detached.insert(id, child);
                if !already_stopping {
                    self.begin_stop(id, Instant::now(), None);
                }
            }
            None => {
                if let Some(waiter) = stopped {
                    let _ = waiter.send(Ok(()));
                }
            }
        }
        Ok(())
    }

    // ---- stopping -------------------------------------------------------------------

    fn child_mut(&mut self, id: u64) -> Option<&mut Child> {
        match self.sup.children.get_mut(&id) {
            Some(child) => Some(child),
            None => self.detached.get_mut(&id).map(|child| &mut **child),
        }
    }

    /// Tells a running child to stop and arms its deadline.
    fn begin_stop(&mut self, id: u64, now: Instant, waiter: Option<Waiter>) {
        let Some(child) = self
            .sup
            .children
            .get_mut(&id)
            .or_else(|| self.detached.get_mut(&id))
        else {
            return;
        };
        let Some(run) = child.run.as_mut() else {
            if let Some(waiter) = waiter {
                let _ = waiter.send(Ok(()));
            }
            return;
        };
        if let Some(waiter) = waiter {
            self.waiters.entry(id).or_default().push(waiter);
        }
        if run.stop.is_some() {
            return;
        }
        signal_stop(id, child, &self.shared.config, now, &mut self.deadlines);
        self.stopping += 1;
        // It may have ended already, its exit waiting among the deferred ones.
        if let Some(pos) = self.deferred.iter().position(|e| e.id == id)
            && let Some(exit) = self.deferred.remove(pos)
        {
            self.on_exit(exit);
        }
    }

    /// Takes an end: finishes a stop, or hands back an end for the policy.
    fn on_exit(&mut self, exit: Exit) -> Option<Exit> {
        let id = exit.id;
        let Some(child) = self.sup.children.get_mut(&id) else {
            if let Some(mut child) = self.detached.remove(&id)
                && child.run.take().is_some_and(|r| r.stop.is_some())
            {
                self.stopping -= 1;
                self.notify_waiters(id, Ok(()));
            }
            return None;
        };
        match &mut child.run {
            Some(run) if run.stop.is_some() => {
                child.run = None;
                child.service = exit.service.or(child.service.take());
                child.state = ChildState::Stopped;
                self.stopping -= 1;
                self.notify_waiters(id, Ok(()));
                // Asked to stop, it also asked never to run again: a group restart or a
                // later serve must not bring it back.
                if exit.outcome.is_do_not_restart() {
                    self.forget(id);
                }
                None
            }
            Some(_) => Some(exit),
            None => None,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.keys().next().copied()
    }

    /// Aborts children past their budget, and gives up on aborted ones past the grace.
    fn on_deadline(&mut self, now: Instant) {
        while let Some(entry) = self.deadlines.first_entry() {
            if *entry.key() > now {
                break;
            }
            let (deadline, ids) = entry.remove_entry();
            for id in ids {
                self.expire(id, deadline, now);
            }
        }
    }

    fn expire(&mut self, id: u64, deadline: Instant, now: Instant) {
        let sup_path = self.path.clone();
        let Some(child) = self.child_mut(id) else {
            return;
        };
        let name = child.name.clone();
        let Some(run) = child.run.as_mut() else {
            return;
        };
        let Some(stop) = run.stop.as_mut() else {
            return;
        };
        if stop.deadline != Some(deadline) {
            return;
        }
        if !stop.aborted {
            run.task.abort();
            stop.aborted = true;
            let grace = now + ABORT_GRACE;
            stop.deadline = Some(grace);
            self.deadlines.entry(grace).or_default().push(id);
            tracing::warn!(target: "suture", supervisor = %sup_path, service = %name, "service did not stop within its budget, aborted");
            self.emit(|| EventKind::StopTimeout { service: name });
            return;
        }
        // Aborted and still running: it blocks a thread. Report it and let it go.
        let path = match &child.path {
            Some(path) => path.to_string(),
            None => format!("{sup_path}/{name}"),
        };
        child.run = None;
        self.notify_waiters(id, Err(SupervisorError::Unstoppable));
        self.stopping -= 1;
        tracing::error!(target: "suture", supervisor = %sup_path, service = %name, "service did not stop even when aborted");
        self.shared.unstopped().push(UnstoppedService {
            path,
            name: name.to_string(),
            token: self.shared.token(id),
        });
        if self.sup.children.remove(&id).is_none() {
            self.detached.remove(&id);
        }
    }

    /// Waits until `id` (or, with `None`, every stopping child) has stopped or been given up.
    async fn wait_stopped(&mut self, id: Option<u64>) {
        // One timer for the whole wait, moved only when the next deadline moves: building a
        // new one per exit registers and cancels a timer entry each time.
        let mut timer = pin!(sleep_until(Instant::now()));
        let mut armed = None;
        loop {
            let done = match id {
                Some(id) => !self.is_stopping(id),
                None => self.stopping == 0,
            };
            if done {
                return;
            }
            let deadline = self.next_deadline();
            if deadline != armed {
                if let Some(deadline) = deadline {
                    timer.as_mut().reset(deadline);
                }
                armed = deadline;
            }
            tokio::select! {
                biased;
                Some(exit) = self.exit_rx.recv() => {
                    // Take every exit already queued before waiting again: a large pool
                    // stopping at once sends thousands.
                    let mut next = Some(exit);
                    while let Some(exit) = next {
                        if let Some(exit) = self.on_exit(exit) {
                            self.deferred.push_back(exit);
                        }
                        next = self.exit_rx.try_recv().ok();
                    }
                }
                () = timer.as_mut(), if armed.is_some() => {
                    armed = None;
                    self.on_deadline(Instant::now());
                }
            }
        }
    }

    /// Answers whoever waited for `id` to stop (usually nobody: no lookup then).
    fn notify_waiters(&mut self, id: u64, result: Result<(), SupervisorError>) {
        if self.waiters.is_empty() {
            return;
        }
        for waiter in self.waiters.remove(&id).into_iter().flatten() {
            let _ = waiter.send(result.clone());
        }
    }

    fn is_stopping(&mut self, id: u64) -> bool {
        self.child_mut(id)
            .and_then(|c| c.run.as_ref())
            .is_some_and(|r| r.stop.is_some())
    }

    /// Stops every child: in reverse start order one at a time, or all at once.
    async fn shutdown_children(&mut self) {
        // Ends not yet handled need no policy now: those children have simply stopped.
        for exit in std::mem::take(&mut self.deferred) {
            if exit.outcome.is_do_not_restart() {
                self.forget(exit.id);
            } else if let Some(child) = self.sup.children.get_mut(&exit.id) {
                child.run = None;
                child.service = exit.service.or(child.service.take());
                child.state = ChildState::Stopped;
            }
        }
        // One pass over the children (a pool may hold a million, and each pass costs a cache
        // miss per child): the idle ones are marked stopped, supervisors noted for the report,
        // and, when stopping concurrently, the running ones told to stop right there.
        let concurrent = self.shared.config.shutdown_order == ShutdownOrder::Concurrent;
        let now = Instant::now();
        let mut running = Vec::new();
        let mut supervisors = Vec::new();
        for (&id, child) in self.sup.children.iter_mut() {
            if let Some(handle) = &child.supervisor {
                supervisors.push((id, handle.clone()));
            }
            match &child.run {
                None => child.state = ChildState::Stopped,
                Some(run) if run.stop.is_some() => {}
                Some(_) if concurrent => {
                    signal_stop(id, child, &self.shared.config, now, &mut self.deadlines);
                    self.stopping += 1;
                }
                Some(_) => running.push(id),
            }
        }
        for &id in running.iter().rev() {
            self.begin_stop(id, Instant::now(), None);
            self.wait_stopped(Some(id)).await;
        }
        // Removed children still stopping are waited for too.
        self.wait_stopped(None).await;
        self.queue.clear();
        self.backoff_until = None;
        self.settled = true;
        // The subtree's report: children that are supervisors kept their own.
        let mut nested = Vec::new();
        for (id, handle) in supervisors {
            if self.sup.children.contains_key(&id) {
                nested.extend(handle.unstopped_services());
            }
        }
        self.shared.unstopped().extend(nested);
    }

    // ---- events ---------------------------------------------------------------------

    /// Delivers an event to the hooks, building it only if one listens.
    fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if self.sink.is_active() {
            let event = Event {
                supervisor: self.path.clone(),
                kind: kind(),
            };
            self.sink.deliver(&event);
        }
    }

    /// Reports how a child ended, to `tracing` and the hooks.
    fn report_end(&self, name: &Arc<str>, end: &End, restarting: Restarting) {
        let failures = self.failures;
        let sup = &*self.path;
        match end {
            End::Panicked(report) => {
                tracing::error!(
                    target: "suture",
                    supervisor = %sup,
                    service = %name,
                    panic = %report.message,
                    location = report.location.as_deref().unwrap_or("unknown"),
                    ?restarting,
                    failures,
                    "service panicked"
                );
                self.emit(|| EventKind::Panicked {
                    service: name.clone(),
                    message: report.message.to_string(),
                    location: report.location.clone(),
                    backtrace: report.backtrace.clone(),
                    restarting,
                    failures,
                });
            }
            End::Failed(error) => {
                tracing::error!(target: "suture", supervisor = %sup, service = %name, error = %format_args!("{error:#}"), ?restarting, failures, "service failed");
                self.emit(|| EventKind::Terminated {
                    service: name.clone(),
                    error: Some(format!("{error:#}")),
                    restarting,
                    failures,
                });
            }
            End::Normal | End::DoNotRestart | End::TerminateTree => {
                tracing::info!(target: "suture", supervisor = %sup, service = %name, ?restarting, "service returned");
                self.emit(|| EventKind::Terminated {
                    service: name.clone(),
                    error: None,
                    restarting,
                    failures,
                });
            }
        }
    }
}

impl Drop for Runner<'_> {
    /// Runs when the loop is dropped mid-way (its task aborted): no child may outlive it.
    fn drop(&mut self) {
        // After `shutdown_children`, nothing runs: no need to look at every child again.
        if !self.settled {
            for child in self
                .sup
                .children
                .values_mut()
                .chain(self.detached.values_mut())
            {
                if let Some(run) = child.run.take() {
                    run.token.cancel();
                    run.task.abort();
                }
            }
        }
        let mut lifecycle = self.shared.lifecycle();
        if *lifecycle == Lifecycle::Running {
            *lifecycle = Lifecycle::Stopped;
        }
    }
}

impl PanicReport {
    fn clone_without_payload(&self) -> PanicReport {
        PanicReport {
            message: self.message.clone(),
            location: self.location.clone(),
            backtrace: self.backtrace.clone(),
            payload: Box::new(()),
        }
    }
}

/// Why a child last failed, kept as cheaply as possible until a snapshot formats it.
pub(crate) enum LastError {
    Failed(Arc<ServiceError>),
    Panicked(Arc<str>),
}

impl LastError {
    fn text(&self) -> String {
        match self {
            LastError::Failed(error) => format!("{error:#}"),
            LastError::Panicked(message) => format!("panicked: {message}"),
        }
    }
}

/// Tells a running child, not yet stopping, to stop: cancels it (and aborts it at once if
/// its budget is `Abort`), and arms the deadline of its stop, if it has one.
fn signal_stop(
    id: u64,
    child: &mut Child,
    config: &Config,
    now: Instant,
    deadlines: &mut BTreeMap<Instant, Vec<u64>>,
) {
    let budget = budget(&child.policy, config);
    let Some(run) = child.run.as_mut() else {
        return;
    };
    run.token.cancel();
    let (deadline, aborted) = match budget {
        Shutdown::Infinity => (None, false),
        Shutdown::Abort => {
            run.task.abort();
            (Some(now + ABORT_GRACE), true)
        }
        Shutdown::Timeout(budget) => (Some(now + budget), false),
    };
    run.stop = Some(Stop { deadline, aborted });
    child.state = ChildState::Stopping;
    if let Some(deadline) = deadline {
        deadlines.entry(deadline).or_default().push(id);
    }
}

/// `supervisor/name`. (Built once per distinct name and serve: siblings share theirs.)
fn join_path(supervisor: &str, name: &str) -> Arc<str> {
    Arc::from(format!("{supervisor}/{name}"))
}

/// Completes with `future`'s output, or never if there is none.
async fn maybe<F: Future + Unpin>(future: Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => pending().await,
    }
}

/// Sleeps until `deadline`, or forever if there is none.
async fn maybe_sleep(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::join_path;

    #[test]
    fn paths_join_with_a_slash_whatever_their_length() {
        assert_eq!(&*join_path("app/db", "pool"), "app/db/pool");
        assert_eq!(&*join_path("app", "naïve"), "app/naïve");
        let long = "x".repeat(300);
        assert_eq!(&*join_path("app", &long), format!("app/{long}"));
        let exact = "y".repeat(256 - "app/".len());
        assert_eq!(&*join_path("app", &exact), format!("app/{exact}"));
    }
}
