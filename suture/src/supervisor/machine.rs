//! The supervisor as a state machine: plain synchronous code.
//!
//! Every input (a child ended, a child became ready, a command, the clock) goes through one
//! method that updates the state and acts: tells children to stop (a token and an abort
//! handle, no runtime needed), starts them (through [`Spawn`], the one effect that needs
//! the runtime), reports events, and answers requests. Waiting for a ready child, for a
//! group to stop, or for a backoff is a state, never a nested wait, so every phase answers
//! every input. The driver feeds it; unit tests feed it by hand.

use std::any::Any;
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::children::{AfterStop, Child, ChildPath, LastError, Paths, Run, Stop, dispose};
use super::handle::{Command, Control, Shared, StopTally};
use super::intensity::Intensity;
use super::meters::state_index;
use super::names::Name;
use super::policy::{self, Decision, OutcomeKind};
use super::report::Reporter;
use super::stopping::{self, Deadlines, Waiters};
use super::store::Store;
use crate::error::{NotReady, ServiceError, SupervisorError};
use crate::event::Restarting;
use crate::health::Health;
use crate::service::{DynService, Outcome};
use crate::spec::{AutoShutdown, OnExceeded, Restart, Shutdown, ShutdownOrder, Strategy};
use crate::tree::{ChildInfo, ChildState, UnstoppedService};

/// How long an aborted task gets to finish before it is reported as unstopped: an abort
/// only lands at the task's next `.await`, which code blocking a thread never reaches.
pub(crate) const ABORT_GRACE: Duration = Duration::from_millis(100);

/// Starting a run: the one effect that needs the runtime.
pub(crate) trait Spawn {
    /// Spawns a run of child `id` (its `runs`-th, for readiness reports) and returns the
    /// handle to abort it.
    fn spawn(&mut self, launch: Launch, service: Box<dyn DynService>) -> Option<AbortHandle>;
}

/// What a run is started with.
pub(crate) struct Launch {
    /// The child's id.
    pub(crate) id: u64,
    /// Which run of the child this is (1 for the first).
    pub(crate) runs: u64,
    /// Its first start in this serve, not a restart (a pool served again starts each child
    /// as it did the first time).
    pub(crate) first: bool,
    pub(crate) token: CancellationToken,
    pub(crate) path: ChildPath,
    /// It has a ready timeout: it says when it is ready.
    pub(crate) ready_gated: bool,
    /// It is a supervisor: it says when its health changes.
    pub(crate) nested: bool,
}

/// The children that keep their supervisor from being healthy, kept up to date as their
/// states change, so that summing up the health costs nothing while all is well.
#[derive(Default)]
pub(crate) struct Unwell {
    /// How many are unwell by their own state (`Child::is_unwell`, marked `counted`): a
    /// count, not a set, so that a pool starting or stopping as a whole costs no set
    /// churn; the paths are gathered only when a health that lists them is published.
    own: usize,
    /// Child supervisors running but not healthy themselves.
    nested: BTreeSet<u64>,
    /// Changes whenever either set (or a nested supervisor's health) changes.
    epoch: u64,
    /// How many children are in each state (in the order of `meters::STATES`).
    counts: [u64; 6],
}

impl Unwell {
    /// Sets a child's state, and counts it if that makes it unwell.
    pub(crate) fn set(&mut self, child: &mut Child, state: ChildState) {
        let old = &mut self.counts[state_index(child.state)];
        *old = old.saturating_sub(1);
        self.counts[state_index(state)] += 1;
        child.state = state;
        let unwell = child.is_unwell();
        if unwell != child.counted {
            child.counted = unwell;
            if unwell {
                self.own += 1;
            } else {
                self.own -= 1;
            }
            self.epoch += 1;
        }
    }

    /// A child is here.
    fn add(&mut self, child: &Child) {
        self.counts[state_index(child.state)] += 1;
    }

    /// `n` children that have never run (stopped, and fine so).
    fn add_never_run(&mut self, n: usize) {
        self.counts[state_index(ChildState::Stopped)] += n as u64;
    }

    /// A child is gone.
    fn forget(&mut self, id: u64, child: &Child) {
        let count = &mut self.counts[state_index(child.state)];
        *count = count.saturating_sub(1);
        if child.counted {
            self.own -= 1;
            self.epoch += 1;
        }
        if self.nested.remove(&id) {
            self.epoch += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.own == 0 && self.nested.is_empty()
    }
}

/// The health's shape, without its list: what is compared to know whether to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HealthKind {
    Starting,
    Healthy,
    Degraded,
    BackingOff,
    Stopping,
}

/// Why a serve ends.
pub(crate) enum StopReason {
    Cancelled,
    TerminateTree,
    Escalate { failures: f64 },
    AutoShutdown,
    Panic(Box<dyn Any + Send>),
}

impl StopReason {
    /// Whether the supervisor is finished for good (it takes no more children). Cancelled,
    /// it is only if nobody will serve it again (`last_serve`): a parent cancels a child
    /// supervisor to stop or restart it too, and keeps it.
    pub(crate) fn is_final(&self, last_serve: bool) -> bool {
        match self {
            StopReason::Cancelled => last_serve,
            StopReason::TerminateTree | StopReason::AutoShutdown => true,
            StopReason::Escalate { .. } | StopReason::Panic(_) => false,
        }
    }
}

enum Phase {
    /// Not being served.
    Idle,
    /// Starting its initial children, in order, each ready-gated one before the next.
    Starting,
    Running,
    /// Stopping every child; then done.
    Stopping(StopReason),
    Done(StopReason),
}

/// A group restart in progress (one_for_all, rest_for_one): members stop one at a time,
/// last started first, then all restart in start order.
#[derive(Default)]
struct Group {
    /// Members still to stop, soonest-started first (the last is stopped next).
    to_stop: Vec<u64>,
    /// The member being stopped now.
    current: Option<u64>,
    /// Who restarts once all have stopped.
    restart: BTreeSet<u64>,
}

pub(crate) struct Machine {
    pub(crate) shared: Arc<Shared>,
    /// Every child, in start order (ids grow).
    pub(crate) children: Store,
    deadlines: Deadlines,
    waiters: Waiters,
    /// Children told to stop and not yet done.
    stopping: usize,
    report: Reporter,
    phase: Phase,
    intensity: Intensity,
    /// Set while restarts pause; `Some(None)` pauses for ever (a `Duration::MAX` backoff).
    backoff: Option<Option<Instant>>,
    /// Children waiting for the backoff to end, in the order they failed.
    backed_off: Vec<u64>,
    /// Children to start, in order.
    queue: VecDeque<u64>,
    /// Writes the started children's paths.
    paths: Paths,
    /// A ready-gated child started in order (a first start, or with its group) and not
    /// ready yet: the children after it that are queued to start wait for it.
    waiting: Option<u64>,
    /// A ready-gated child not yet ready once in this serve: no child starts for the first
    /// time before it is (through its restarts too).
    gate: Option<u64>,
    group: Option<Group>,
    /// For a reverse shutdown: who is still to stop, soonest-started first.
    to_stop: Vec<u64>,
    /// Start-up has just completed (for the driver to signal readiness).
    started: bool,
    pub(crate) unwell: Unwell,
    /// What was last published, with the epoch of `unwell` it was built from.
    published: Option<(HealthKind, u64)>,
    /// How the children stopped during this serve's shutdown.
    pub(crate) stops: StopTally,
    clock: Clock,
}

/// When runs began, as offsets from the supervisor's first serve (see `Run::since`). Every
/// serve counts from that epoch, so a run left stopping by an aborted serve keeps its uptime
/// in the next.
#[derive(Default)]
struct Clock {
    epoch: Option<Instant>,
    /// The last instant read as an offset, with its offset: a pool's start-up begins all its
    /// runs at one instant.
    last: Option<(Instant, u64)>,
}

impl Clock {
    /// `now` as an offset from the epoch (which `now` sets, the first time).
    fn since(&mut self, now: Instant) -> u64 {
        match self.last {
            Some((at, since)) if at == now => since,
            _ => {
                let epoch = *self.epoch.get_or_insert(now);
                let since = u64::try_from(now.saturating_duration_since(epoch).as_nanos())
                    .unwrap_or(u64::MAX);
                self.last = Some((now, since));
                since
            }
        }
    }

    /// The instant an offset stands for.
    fn at(&self, since: u64) -> Option<Instant> {
        self.epoch?.checked_add(Duration::from_nanos(since))
    }
}

impl Machine {
    pub(crate) fn new(shared: Arc<Shared>, report: Reporter) -> Self {
        Machine {
            shared,
            children: Store::default(),
            deadlines: Deadlines::default(),
            waiters: Waiters::default(),
            stopping: 0,
            report,
            phase: Phase::Idle,
            intensity: Intensity::default(),
            backoff: None,
            backed_off: Vec::new(),
            queue: VecDeque::new(),
            paths: Paths::default(),
            waiting: None,
            gate: None,
            group: None,
            to_stop: Vec::new(),
            started: false,
            unwell: Unwell::default(),
            published: None,
            stops: StopTally::default(),
            clock: Clock::default(),
        }
    }

    // ---- the serve's life ------------------------------------------------------------

    /// Starts a serve: every child is queued to start, in order.
    pub(crate) fn begin(&mut self, report: Reporter, now: Instant, spawn: &mut impl Spawn) {
        self.report = report;
        self.clock.since(now);
        self.phase = Phase::Starting;
        self.intensity.reset();
        self.backoff = None;
        self.backed_off.clear();
        self.queue.clear();
        self.waiting = None;
        self.gate = None;
        self.group = None;
        self.to_stop.clear();
        self.started = false;
        self.published = None;
        self.stops = StopTally::default();
        self.queue.reserve(self.children.len());
        self.paths.clear();
        // One pass: with a large pool, each pass over the children is a cache miss each.
        for (id, child) in self.children.iter_mut() {
            child.fresh = true;
            child.regrouped = false;
            child.held = false;
            if !child.has_run() {
                self.unwell.set(child, ChildState::Stopped);
            }
            // A child still stopping from an aborted serve is queued too: the queue waits
            // for it, so it starts again rather than being lost.
            self.queue.push_back(id);
        }
        self.pump(now, spawn);
    }

    /// Takes the children added while the supervisor was idle: kept as they are when there
    /// are no others (a pool filled before its first serve is not copied).
    pub(crate) fn adopt(&mut self, added: Store) {
        if !self.children.is_empty() {
            self.children.reserve(added.len());
            for (id, child) in added.into_entries() {
                self.add(id, child);
            }
            return;
        }
        // Added while idle, they have never run: all stopped, counted at once rather than
        // one by one (a pass over a million records).
        debug_assert!(
            added
                .values()
                .all(|c| c.runs == 0 && c.state == ChildState::Stopped)
        );
        self.unwell.add_never_run(added.len());
        self.children = added;
    }

    /// Takes a child added by a command (it starts with the serve, or at once if serving).
    pub(crate) fn add(&mut self, id: u64, child: Child) {
        self.unwell.add(&child);
        self.children.insert(id, child);
    }

    /// Whether start-up completed since last asked.
    pub(crate) fn take_started(&mut self) -> bool {
        std::mem::take(&mut self.started)
    }

    /// The ending, once every child has stopped.
    pub(crate) fn take_ending(&mut self) -> Option<StopReason> {
        if !matches!(self.phase, Phase::Done(_)) {
            return None;
        }
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Done(ending) => Some(ending),
            _ => None,
        }
    }

    /// Whether the serve is stopping its children (or done).
    pub(crate) fn is_stopping(&self) -> bool {
        matches!(self.phase, Phase::Stopping(_) | Phase::Done(_))
    }

    /// How many children were told to stop and have not ended yet.
    pub(crate) fn children_stopping(&self) -> usize {
        self.stopping
    }

    /// The next instant at which [`on_time`](Self::on_time) has something to do.
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.flatten();
        match (self.deadlines.next(), backoff) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sums up the subtree's health and publishes it if it changed (cheap when nothing did:
    /// the list of paths is built only then); whether the published health changed.
    pub(crate) fn publish_health(&mut self) -> bool {
        let kind = match self.phase {
            Phase::Idle => return false,
            Phase::Starting => HealthKind::Starting,
            // Restarts paused with every child running (one restarted by request, say) is
            // healthy: the pause matters only to children waiting on it.
            Phase::Running if self.unwell.is_empty() => HealthKind::Healthy,
            Phase::Running if self.backoff.is_some() => HealthKind::BackingOff,
            Phase::Running => HealthKind::Degraded,
            Phase::Stopping(_) | Phase::Done(_) => HealthKind::Stopping,
        };
        // Only a health that lists paths changes with them: starting, healthy or stopping
        // is published once, not once per child of a pool starting or stopping.
        let lists_paths = matches!(kind, HealthKind::Degraded | HealthKind::BackingOff);
        let stamp = (kind, if lists_paths { self.unwell.epoch } else { 0 });
        if self.published == Some(stamp) {
            return false;
        }
        self.published = Some(stamp);
        let health = match kind {
            HealthKind::Starting => Health::Starting,
            HealthKind::Healthy => Health::Healthy,
            HealthKind::Stopping => Health::Stopping,
            HealthKind::Degraded => Health::Degraded {
                unhealthy: self.unhealthy_paths(),
            },
            HealthKind::BackingOff => Health::BackingOff {
                unhealthy: self.unhealthy_paths(),
            },
        };
        self.shared.set_health(health)
    }

    /// The paths not running or ready, in start order: a child supervisor in trouble
    /// stands for the paths in trouble under it.
    fn unhealthy_paths(&self) -> Vec<Arc<str>> {
        let nested = &self.unwell.nested;
        let mut paths = Vec::new();
        for (id, child) in self.children.iter() {
            if !child.counted && !nested.contains(&id) {
                continue;
            }
            if !child.counted
                && let Some(handle) = child.supervisor()
            {
                let below = handle.shared.health.borrow();
                if !below.unhealthy().is_empty() {
                    paths.extend_from_slice(below.unhealthy());
                    continue;
                }
            }
            paths.push(Arc::from(child.path_in(&self.report.path)));
        }
        paths
    }

    /// Sets the children-by-state gauges (feature `metrics`; nothing without it).
    pub(crate) fn publish_gauges(&mut self) {
        self.report.meters.children(&self.unwell.counts);
    }

    /// A child supervisor says its health changed.
    pub(crate) fn on_child_health(&mut self, id: u64) {
        let Some(child) = self.children.get(id) else {
            return;
        };
        // A child being removed no longer counts.
        let sick = child.is_live()
            && child
                .supervisor()
                .is_some_and(|handle| !handle.shared.is_healthy());
        if sick {
            self.unwell.nested.insert(id);
        } else {
            self.unwell.nested.remove(&id);
        }
        // Its list of paths may have changed even if it stays sick.
        self.unwell.epoch += 1;
    }

    /// Cancelled from above: stop every child and return `Ok(())`.
    pub(crate) fn on_cancel(&mut self, now: Instant) {
        self.shutdown(StopReason::Cancelled, now);
    }

    /// The serve is being dropped mid-way (its task aborted): no child may outlive it, and
    /// none may be lost. Each running child is cancelled and aborted, and stays stopping,
    /// so that the next serve waits for its service to come back before starting it.
    pub(crate) fn abandon(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Idle) {
            return;
        }
        for (id, child) in self.children.iter_mut() {
            let Some(run) = child.run() else {
                continue;
            };
            if let Some(task) = &run.task {
                task.abort();
            }
            if let Some(token) = child.token.take() {
                token.cancel();
            }
            let Some(run) = child.run_mut() else {
                continue;
            };
            if let Some(stop) = run.stop.as_mut() {
                stop.aborted = true;
                continue;
            }
            if let Some(key) = run.deadline.take() {
                self.deadlines.disarm(key);
            }
            run.deadline =
                stopping::deadline(now, ABORT_GRACE).map(|at| self.deadlines.arm(id, at));
            run.stop = Some(Stop {
                aborted: true,
                then: AfterStop::Rest,
            });
            self.unwell.set(child, ChildState::Stopping);
            self.stopping += 1;
        }
        self.phase = Phase::Idle;
    }

    /// Answers every request still waiting for a stop with `error`: the serve is being
    /// dropped, and nothing it left stopping finishes before the next one.
    pub(crate) fn refuse_waiters(&mut self, error: &SupervisorError) {
        self.waiters.refuse_all(error);
    }

    // ---- inputs ----------------------------------------------------------------------

    /// A child's run ended, handing its service back.
    pub(crate) fn on_exit(
        &mut self,
        id: u64,
        service: Box<dyn DynService>,
        outcome: Outcome,
        now: Instant,
        spawn: &mut impl Spawn,
    ) {
        let Some(child) = self.children.get_mut(id) else {
            // Given up on as unstoppable, it finished after all: nothing to do but drop it.
            self.dispose_service(None, service);
            return;
        };
        let Run {
            task,
            deadline,
            stop,
            ..
        } = match child.end_run(service) {
            Ok(run) => run,
            Err(service) => {
                self.dispose_service(Some(id), service);
                return;
            }
        };
        // The last handle on the finished task: freed before a restart spawns the next, so
        // that the allocator can hand the same memory straight back.
        drop(task);
        // A child supervisor's own health spoke for it while it ran; from its end on, its
        // state does (a finished one is fine, a failed one restarts or goes).
        if self.unwell.nested.remove(&id) {
            self.unwell.epoch += 1;
        }
        if let Some(key) = deadline {
            self.deadlines.disarm(key);
        }
        // It ended by itself, not told to stop: its token can serve the next run, unless
        // the service cancelled it itself.
        if stop.is_none()
            && child
                .token
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled)
        {
            child.token = None;
        }
        // Nobody will serve this supervisor again: a child supervisor goes now, its subtree
        // with it, rather than with the whole tree on one thread at the very end. (A plain
        // service stays: one free each, spread over the stop, cost a flat pool more than
        // they saved.)
        let last = matches!(self.phase, Phase::Stopping(_)) && self.shared.is_last_serve();
        let gone = if last && child.supervisor().is_some() {
            child.let_go()
        } else {
            None
        };
        if let Some(service) = gone {
            self.dispose_service(Some(id), service);
        }
        match stop {
            Some(stop) => self.stopped(id, stop, outcome, now, spawn),
            None => self.ended(id, outcome, now, spawn),
        }
        self.pump(now, spawn);
    }

    /// A child's run said it is ready.
    pub(crate) fn on_ready(&mut self, id: u64, runs: u64, now: Instant, spawn: &mut impl Spawn) {
        let Some(child) = self.children.get_mut(id) else {
            return;
        };
        if child.runs != runs || child.state != ChildState::Starting || !child.is_live() {
            return; // a previous run's late signal
        }
        self.unwell.set(child, ChildState::Running);
        if let Some(key) = child.run_mut().and_then(|run| run.deadline.take()) {
            self.deadlines.disarm(key);
        }
        self.ungate(id);
        self.pump(now, spawn);
    }

    /// Time passed: stop deadlines, ready deadlines, the end of a backoff.
    pub(crate) fn on_time(&mut self, now: Instant, spawn: &mut impl Spawn) {
        while let Some((key, ids)) = self.deadlines.pop_due(now) {
            for id in ids {
                self.expire(id, key, now);
            }
        }
        if let Some(Some(until)) = self.backoff
            && until <= now
        {
            self.resume();
        }
        self.pump(now, spawn);
    }

    /// A request from a handle.
    pub(crate) fn on_command(&mut self, command: Command, now: Instant, spawn: &mut impl Spawn) {
        match command {
            Command::Add { id, child } => {
                self.add(id, child);
                if !self.is_stopping() {
                    self.queue.push_back(id);
                }
            }
            Command::Remove { id, reply, stopped } => {
                let result = self.remove(id, stopped, now);
                let _ = reply.send(result);
            }
            Command::Children { reply } => {
                let _ = reply.send(self.children_info(now));
            }
            Command::Control { id, action, reply } => match self.control(id, action, now, spawn) {
                Ok(true) => self.waiters.add(id, reply),
                Ok(false) => {
                    let _ = reply.send(Ok(()));
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
        }
        self.pump(now, spawn);
    }

    // ---- starting --------------------------------------------------------------------

    /// Starts queued children in order, as far as the ready gates allow.
    fn pump(&mut self, now: Instant, spawn: &mut impl Spawn) {
        if !matches!(self.phase, Phase::Starting | Phase::Running) {
            return;
        }
        // A group restart in progress holds every start: its members go first, in order.
        // Start order is dependency order: while a ready-gated child started in order (at
        // start-up, or with its group) is not ready, the children after it wait, and so do
        // the rest of a group restart. A child before it, restarting on its own, does not.
        let mut at = 0;
        while self.group.is_none() {
            let Some(&id) = self.queue.get(at) else {
                break;
            };
            let Some(child) = self.children.get(id) else {
                self.queue.remove(at);
                continue;
            };
            if child.is_stopping() {
                break; // still stopping from an aborted serve: its service is on its way
            }
            if child.has_run() || child.held || child.is_gone() {
                self.queue.remove(at);
                continue;
            }
            let held_back = self
                .waiting
                .is_some_and(|waiting| waiting < id || child.regrouped)
                || (child.fresh && self.gate.is_some_and(|gate| gate < id));
            if held_back {
                if child.fresh {
                    // First starts queue in order, after every restart: the rest wait too.
                    break;
                }
                at += 1;
                continue;
            }
            self.queue.remove(at);
            if self.backoff.is_some() && !child.fresh {
                // A restart queued before the backoff began waits for its end.
                if let Some(child) = self.children.get_mut(id) {
                    self.unwell.set(child, ChildState::BackedOff);
                }
                self.backed_off.push(id);
                continue;
            }
            self.start(id, now, spawn);
        }
        if matches!(self.phase, Phase::Starting)
            && self.queue.is_empty()
            && self.group.is_none()
            && self.waiting.is_none()
            && self.gate.is_none()
        {
            self.phase = Phase::Running;
            self.started = true;
            // Sized for every child at the serve's start; a restart queues one or a few.
            self.queue.shrink_to(16);
        }
    }

    /// Starts one run of a child that is not running.
    fn start(&mut self, id: u64, now: Instant, spawn: &mut impl Spawn) {
        let sup_path = &self.report.path;
        let Some(child) = self.children.get_mut(id) else {
            return;
        };
        let since = self.clock.since(now);
        let Some(service) = child.begin_run(since) else {
            return;
        };
        let path = self.paths.path(sup_path, &child.name);
        let token = child.token.get_or_insert_default().clone();
        child.runs += 1;
        let ready = child.ready();
        let launch = Launch {
            id,
            runs: child.runs,
            first: child.fresh,
            token,
            path,
            ready_gated: ready.is_some(),
            nested: child.supervisor().is_some(),
        };
        let task = spawn.spawn(launch, service);
        let deadline = ready
            .and_then(|timeout| stopping::deadline(now, timeout))
            .map(|at| self.deadlines.arm(id, at));
        if let Some(run) = child.run_mut() {
            run.task = task;
            run.deadline = deadline;
        }
        let in_order = child.fresh || std::mem::take(&mut child.regrouped);
        if ready.is_some() {
            self.unwell.set(child, ChildState::Starting);
            // A restart of its own holds no one up: the children after it run already.
            if in_order {
                self.waiting = Some(id);
            }
            if child.fresh && self.gate.is_none() {
                self.gate = Some(id);
            }
        } else {
            self.unwell.set(child, ChildState::Running);
        }
        child.fresh = false;
        self.report.started(&child.name, child.restarts());
    }

    // ---- the policy ------------------------------------------------------------------

    /// A child ended without being told to stop.
    fn ended(&mut self, id: u64, outcome: Outcome, now: Instant, spawn: &mut impl Spawn) {
        if self.waiting == Some(id) {
            self.waiting = None;
        }
        if self.is_stopping() {
            // Shutting down: it has simply stopped.
            self.rest(id, &outcome);
            self.advance(now, spawn);
            return;
        }
        if let Some(group) = &mut self.group
            && group.restart.contains(&id)
        {
            // It restarts with its group anyway.
            group.to_stop.retain(|&m| m != id);
            self.rest(id, &outcome);
            if let Some(child) = self.children.get_mut(id) {
                self.unwell.set(child, ChildState::Restarting);
            }
            self.advance(now, spawn);
            return;
        }
        self.apply_policy(id, OutcomeKind::of(outcome), now);
    }

    /// Leaves a child stopped (forgotten if it asked never to run again).
    fn rest(&mut self, id: u64, outcome: &Outcome) {
        if outcome.is_do_not_restart() {
            self.forget(id);
        } else if let Some(child) = self.children.get_mut(id) {
            self.unwell.set(child, ChildState::Stopped);
        }
    }

    fn apply_policy(&mut self, id: u64, end: OutcomeKind, now: Instant) {
        let Some(end) = self.decide(id, end, now) else {
            return;
        };
        // Kept whole, moved rather than shared (a crash loop allocates nothing for it), and
        // formatted only when a snapshot asks.
        let last = match end {
            OutcomeKind::Failed(error) => LastError::Failed(error),
            OutcomeKind::Panicked(report) => LastError::Panicked(report.message),
            _ => return,
        };
        if let Some(child) = self.children.get_mut(id) {
            child.set_last_error(last);
        }
    }

    /// Reports how a child ended and acts on it by its restart type and the strategy; gives
    /// the outcome back, for the child to keep.
    fn decide(&mut self, id: u64, end: OutcomeKind, now: Instant) -> Option<OutcomeKind> {
        let child = self.children.get_mut(id)?;
        let name = child.name.clone();
        let (restart, significant) = (child.restart, child.significant);
        let end = match end {
            OutcomeKind::TerminateTree => {
                self.unwell.set(child, ChildState::Stopped);
                self.report.tree_terminated(&name);
                self.shutdown(StopReason::TerminateTree, now);
                return None;
            }
            OutcomeKind::Panicked(mut report) if self.shared.config.pass_through_panics => {
                self.unwell.set(child, ChildState::Stopped);
                let payload = std::mem::replace(&mut report.payload, Box::new(()));
                let failures = self.intensity.failures();
                let end = OutcomeKind::Panicked(report);
                self.report.ended(&name, &end, Restarting::No, failures);
                self.shutdown(StopReason::Panic(payload), now);
                return Some(end);
            }
            end => end,
        };
        let decision = policy::decide(&end, restart);
        if decision != Decision::Restart {
            self.report
                .ended(&name, &end, Restarting::No, self.intensity.failures());
            self.ungate(id);
            match decision {
                Decision::Forget => self.forget(id),
                _ => {
                    if let Some(child) = self.children.get_mut(id) {
                        self.unwell.set(child, ChildState::Stopped);
                    }
                }
            }
            if significant && self.auto_shutdown_due() {
                self.report.auto_shutdown(&name);
                self.shutdown(StopReason::AutoShutdown, now);
            }
            return Some(end);
        }
        let (half_life, threshold) = (self.shared.config.half_life, self.shared.config.threshold);
        // Every restart counts toward intensity, whatever caused it.
        let failures = self.intensity.record(now, half_life);
        let exceeded = failures > threshold;
        if exceeded && self.shared.config.on_exceeded == OnExceeded::Escalate {
            self.report.ended(&name, &end, Restarting::No, failures);
            self.report.escalated(failures, threshold);
            self.shutdown(StopReason::Escalate { failures }, now);
            return Some(end);
        }
        if exceeded {
            self.arm_backoff(now);
        }
        let restarting = if self.backoff.is_some() {
            Restarting::AfterBackoff
        } else {
            Restarting::Now
        };
        self.report.ended(&name, &end, restarting, failures);
        if self.shared.config.strategy == Strategy::OneForOne {
            // The common case, and a crash loop's: no group to gather.
            self.requeue(id);
        } else {
            self.start_group(id, now);
        }
        Some(end)
    }

    /// Queues a child to restart: at once (first in line), or when the backoff ends.
    fn requeue(&mut self, id: u64) {
        if self.backoff.is_some() {
            if let Some(child) = self.children.get_mut(id) {
                self.unwell.set(child, ChildState::BackedOff);
            }
            self.backed_off.push(id);
        } else {
            if let Some(child) = self.children.get_mut(id) {
                self.unwell.set(child, ChildState::Restarting);
            }
            self.queue.push_front(id);
        }
    }

    /// Starts (or widens) the group restart caused by `failed`.
    fn start_group(&mut self, failed: u64, now: Instant) {
        let strategy = self.shared.config.strategy;
        let group = self.group.get_or_insert_with(Group::default);
        group.restart.insert(failed);
        for (id, child) in self.children.iter() {
            if id != failed
                && policy::in_group(strategy, failed, id)
                && child.is_live()
                && group.restart.insert(id)
            {
                group.to_stop.push(id);
            }
        }
        group.to_stop.sort_unstable();
        if let Some(child) = self.children.get_mut(failed) {
            self.unwell.set(child, ChildState::Restarting);
        }
        self.advance_group(now);
    }

    /// Stops the next member of the group restart, or restarts the group once all stopped.
    fn advance_group(&mut self, now: Instant) {
        let Some(group) = &mut self.group else {
            return;
        };
        if group.current.is_some() {
            return;
        }
        while let Some(id) = group.to_stop.pop() {
            if self.children.get(id).is_some_and(|c| c.is_live()) {
                group.current = Some(id);
                self.begin_stop(id, AfterStop::Rest, now);
                return;
            }
        }
        let Some(group) = self.group.take() else {
            return;
        };
        // Restart in start order; temporary members that were stopped are dropped.
        for &id in group.restart.iter().rev() {
            let Some(child) = self.children.get(id) else {
                continue;
            };
            if child.held || child.has_run() {
                continue;
            }
            if child.restart == Restart::Temporary {
                self.forget(id);
                continue;
            }
            if let Some(child) = self.children.get_mut(id) {
                child.regrouped = true;
            }
            if self.backoff.is_some() {
                continue;
            }
            self.requeue(id);
        }
        if self.backoff.is_some() {
            for &id in &group.restart {
                if let Some(child) = self.children.get_mut(id)
                    && !child.has_run()
                    && !child.held
                {
                    self.unwell.set(child, ChildState::BackedOff);
                    self.backed_off.push(id);
                }
            }
        }
    }

    /// Starts or re-arms the backoff pause.
    fn arm_backoff(&mut self, now: Instant) {
        let config = &self.shared.config;
        let factor = 1.0 + fastrand::f64() * config.jitter;
        // Saturates: a `Duration::MAX` backoff pauses for ever rather than overflowing.
        let pause = Duration::try_from_secs_f64(config.backoff.as_secs_f64() * factor)
            .unwrap_or(Duration::MAX);
        self.backoff = Some(stopping::deadline(now, pause));
        self.report
            .backoff_started(pause, self.intensity.failures());
    }

    fn resume(&mut self) {
        self.backoff = None;
        self.intensity.reset();
        self.report.backoff_ended();
        let mut seen = HashSet::new();
        let queued: Vec<u64> = self
            .backed_off
            .drain(..)
            .filter(|id| seen.insert(*id))
            .collect();
        // First in line, in the order they failed.
        for &id in queued.iter().rev() {
            if let Some(child) = self.children.get_mut(id)
                && !child.has_run()
                && !child.held
            {
                self.unwell.set(child, ChildState::Restarting);
                self.queue.push_front(id);
            }
        }
    }

    fn auto_shutdown_due(&self) -> bool {
        match self.shared.config.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .values()
                .any(|c| c.significant && c.state != ChildState::Stopped),
        }
    }

    /// `id` holds no one up any more: it is ready, or will not be now (stopped, removed,
    /// given up), so neither the children queued after it nor the first starts behind the
    /// start-up gate wait for it.
    fn ungate(&mut self, id: u64) {
        if self.waiting == Some(id) {
            self.waiting = None;
        }
        if self.gate == Some(id) {
            self.gate = None;
        }
    }

    /// Drops a child for good, telling it if it is a supervisor.
    fn forget(&mut self, id: u64) {
        self.ungate(id);
        if let Some(child) = self.children.remove(id) {
            self.shared.names().release(&child.name);
            self.unwell.forget(id, &child);
            if let Some(handle) = child.supervisor() {
                handle.mark_finished();
            }
            let name = child.name.clone();
            if let Some(report) = dispose(child) {
                self.report.drop_panicked(&name, &report);
            }
        }
    }

    fn dispose_service(&mut self, id: Option<u64>, service: Box<dyn DynService>) {
        if let Some(report) = dispose(service) {
            let name = id
                .and_then(|id| self.children.get(id))
                .map_or_else(Name::removed, |c| c.name.clone());
            self.report.drop_panicked(&name, &report);
        }
    }

    // ---- stopping --------------------------------------------------------------------

    /// Tells a live child to stop and arms its deadline; a stopping one only gets `then`
    /// if that says more (a removal wins over a rest).
    fn begin_stop(&mut self, id: u64, then: AfterStop, now: Instant) {
        let config = &self.shared.config;
        let Some(child) = self.children.get_mut(id) else {
            return;
        };
        let budget = child
            .shutdown()
            .unwrap_or(Shutdown::Timeout(config.shutdown));
        match child.run_mut().map(|run| &mut run.stop) {
            None => return,
            Some(Some(stop)) => {
                if then == AfterStop::Remove || stop.then == AfterStop::Start {
                    stop.then = then;
                }
                return;
            }
            Some(None) => {}
        }
        if let Some(token) = child.token.take() {
            token.cancel();
        }
        let Some(run) = child.run_mut() else {
            return;
        };
        if let Some(key) = run.deadline.take() {
            self.deadlines.disarm(key);
        }
        if self.waiting == Some(id) {
            // A stopping child holds no one up (a first start still waits at the gate).
            self.waiting = None;
        }
        let (after, aborted) = match budget {
            Shutdown::Infinity => (None, false),
            Shutdown::Abort => {
                if let Some(task) = &run.task {
                    task.abort();
                }
                (Some(ABORT_GRACE), true)
            }
            Shutdown::Timeout(budget) => (Some(budget), false),
        };
        run.deadline = after
            .and_then(|after| stopping::deadline(now, after))
            .map(|at| self.deadlines.arm(id, at));
        run.stop = Some(Stop { aborted, then });
        self.unwell.set(child, ChildState::Stopping);
        self.stopping += 1;
    }

    /// A child told to stop has stopped.
    fn stopped(
        &mut self,
        id: u64,
        stop: Stop,
        outcome: Outcome,
        now: Instant,
        spawn: &mut impl Spawn,
    ) {
        self.stopping -= 1;
        if let Some(group) = &mut self.group
            && group.current == Some(id)
        {
            group.current = None;
        }
        if matches!(self.phase, Phase::Stopping(_)) {
            if stop.aborted {
                self.stops.aborted += 1;
            } else {
                self.stops.clean += 1;
            }
            if let Some(child) = self.children.get(id) {
                self.report.stopped(&child.name, stop.aborted);
            }
        }
        match stop.then {
            AfterStop::Remove => {
                self.waiters.notify(id, &Ok(()));
                self.forget(id);
            }
            AfterStop::NotReady => {
                let timeout = self
                    .children
                    .get(id)
                    .and_then(Child::ready)
                    .unwrap_or_default();
                let error = ServiceError::new(NotReady(timeout));
                self.waiters.notify(id, &Ok(()));
                if self.waiting == Some(id) {
                    self.waiting = None;
                }
                if self.is_stopping() {
                    self.rest(id, &outcome);
                } else {
                    self.apply_policy(id, OutcomeKind::Failed(error), now);
                }
            }
            AfterStop::Start if !self.is_stopping() && !outcome.is_do_not_restart() => {
                if let Some(child) = self.children.get_mut(id) {
                    self.unwell.set(child, ChildState::Stopped);
                }
                self.start(id, now, spawn);
                self.waiters.notify(id, &Ok(()));
            }
            AfterStop::Rest | AfterStop::Start => {
                self.rest(id, &outcome);
                if let Some(child) = self.children.get_mut(id).filter(|c| !c.held)
                    && self.group.as_ref().is_some_and(|g| g.restart.contains(&id))
                {
                    self.unwell.set(child, ChildState::Restarting);
                }
                self.waiters.notify(id, &Ok(()));
            }
        }
        self.advance(now, spawn);
    }

    /// After a stop: the group restart or the shutdown moves on.
    fn advance(&mut self, now: Instant, spawn: &mut impl Spawn) {
        let _ = spawn;
        if self.group.is_some() {
            self.advance_group(now);
        }
        if self.is_stopping() {
            self.advance_shutdown(now);
        }
    }

    /// A deadline came: abort a child past its budget, give up on one aborted in vain, or
    /// fail one that missed its ready deadline.
    fn expire(&mut self, id: u64, key: stopping::Key, now: Instant) {
        let Some(child) = self.children.get_mut(id) else {
            return;
        };
        let name = child.name.clone();
        let Some(run) = child.run_mut() else {
            return;
        };
        if run.deadline != Some(key) {
            return; // a stale member of a shared entry
        }
        run.deadline = None;
        let Some(stop) = run.stop.as_mut() else {
            // Starting, and not ready in time: stop it, then fail it.
            self.begin_stop(id, AfterStop::NotReady, now);
            return;
        };
        if !stop.aborted {
            stop.aborted = true;
            if let Some(task) = &run.task {
                task.abort();
            }
            run.deadline =
                stopping::deadline(now, ABORT_GRACE).map(|at| self.deadlines.arm(id, at));
            self.report.stop_timeout(&name);
            return;
        }
        // Aborted and still running: it blocks a thread. Report it and let it go.
        let path = child.path_in(&self.report.path);
        self.stopping -= 1;
        if matches!(self.phase, Phase::Stopping(_)) {
            self.stops.unstoppable += 1;
        }
        self.report.unstoppable(&name);
        self.shared.unstopped().push(UnstoppedService {
            path,
            name: name.to_string(),
            token: self.shared.token(id),
        });
        self.waiters.notify(id, &Err(SupervisorError::Unstoppable));
        if let Some(group) = &mut self.group
            && group.current == Some(id)
        {
            group.current = None;
        }
        self.group.as_mut().map(|g| g.restart.remove(&id));
        // Its service is held by the blocked task: the child is reported, not kept.
        self.forget(id);
        self.advance_group(now);
        if self.is_stopping() {
            self.advance_shutdown(now);
        }
    }

    /// Begins stopping every child, for `ending`.
    fn shutdown(&mut self, ending: StopReason, now: Instant) {
        if self.is_stopping() {
            return;
        }
        if ending.is_final(self.shared.is_last_serve()) {
            // Marked before any child is told to stop: a child that reacts by adding a
            // sibling, on another thread, must find the supervisor refusing new children.
            self.shared.mark_stopping();
        }
        let concurrent = self.shared.config.shutdown_order == ShutdownOrder::Concurrent;
        self.phase = Phase::Stopping(ending);
        self.queue.clear();
        self.waiting = None;
        self.gate = None;
        self.backoff = None;
        self.backed_off.clear();
        self.group = None;
        self.to_stop.clear();
        // One pass over the children (a pool may hold a million): the idle ones are marked
        // stopped and, when stopping concurrently, the live ones told to stop right there.
        let last_serve = self.shared.is_last_serve();
        let mut live = Vec::with_capacity(self.children.len());
        // Restarts asked for and not done yet: they will not be.
        let mut overtaken = Vec::new();
        for (id, child) in self.children.iter_mut() {
            if let Some(stop) = child.run_mut().and_then(|run| run.stop.as_mut())
                && stop.then == AfterStop::Start
            {
                stop.then = AfterStop::Rest;
                overtaken.push(id);
            }
            if last_serve && let Some(handle) = child.supervisor() {
                // Stopped by this last serve, a child supervisor is never served again
                // either: told before it is told to stop (one not running is finished now).
                handle.shared.mark_last_serve();
                handle.mark_finished();
            }
            if !child.has_run() {
                self.unwell.set(child, ChildState::Stopped);
            } else if child.is_live() {
                live.push(id);
            }
        }
        if let Some(refusal) = self.refusal_while_stopping() {
            for id in overtaken {
                self.waiters.notify(id, &Err(refusal.clone()));
            }
        }
        if concurrent {
            self.deadlines.expect(live.len());
            for id in live {
                self.begin_stop(id, AfterStop::Rest, now);
            }
            // Children stopped without a deadline (an `Infinity` budget) used none of it.
            self.deadlines.expect(0);
        } else {
            self.to_stop = live;
        }
        self.advance_shutdown(now);
    }

    /// Stops the next child of a reverse shutdown, or finishes once all have stopped.
    fn advance_shutdown(&mut self, now: Instant) {
        let current_busy = |m: &Machine| {
            m.shared.config.shutdown_order == ShutdownOrder::Reverse && m.stopping > 0
        };
        while !current_busy(self) {
            let Some(id) = self.to_stop.pop() else {
                break;
            };
            if self.children.get(id).is_some_and(|c| c.is_live()) {
                self.begin_stop(id, AfterStop::Rest, now);
            }
        }
        if self.stopping == 0
            && self.to_stop.is_empty()
            && let Phase::Stopping(_) = self.phase
        {
            let Phase::Stopping(ending) = std::mem::replace(&mut self.phase, Phase::Idle) else {
                return;
            };
            self.phase = Phase::Done(ending);
        }
    }

    // ---- commands --------------------------------------------------------------------

    fn remove(
        &mut self,
        id: u64,
        waiter: Option<tokio::sync::oneshot::Sender<Result<(), SupervisorError>>>,
        now: Instant,
    ) -> Result<(), SupervisorError> {
        let Some(child) = self.children.get(id).filter(|c| !c.is_removed()) else {
            return Err(self.unknown_child());
        };
        if let Some(handle) = child.supervisor() {
            handle.mark_finished();
        }
        let has_run = child.has_run();
        self.ungate(id);
        if let Some(group) = &mut self.group {
            group.restart.remove(&id);
        }
        if has_run {
            self.begin_stop(id, AfterStop::Remove, now);
            if let Some(waiter) = waiter {
                self.waiters.add(id, waiter);
            }
        } else {
            self.forget(id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(Ok(()));
            }
        }
        Ok(())
    }

    /// Stops, starts or restarts a child by request. `Ok(true)`: answered once its stop is
    /// done; `Ok(false)`: done already.
    fn control(
        &mut self,
        id: u64,
        action: Control,
        now: Instant,
        spawn: &mut impl Spawn,
    ) -> Result<bool, SupervisorError> {
        let refusal = self.refusal_while_stopping();
        let Some(child) = self.children.get_mut(id).filter(|c| !c.is_removed()) else {
            return Err(self.unknown_child());
        };
        if action != Control::Stop {
            // A child let go at the end of a last serve has no service left to start.
            if child.is_gone() {
                return Err(SupervisorError::Finished {
                    supervisor: self.shared.name(),
                });
            }
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
        }
        match action {
            Control::Stop => {
                child.held = true;
                if !child.has_run() {
                    self.unwell.set(child, ChildState::Stopped);
                    self.ungate(id);
                    return Ok(false);
                }
                self.ungate(id);
                self.begin_stop(id, AfterStop::Rest, now);
                // Stopping already, to start again or to fail for missing its ready
                // deadline: stopped by request, it is left stopped and nothing is counted.
                if let Some(stop) = self
                    .children
                    .get_mut(id)
                    .and_then(|c| c.run_mut())
                    .and_then(|r| r.stop.as_mut())
                    && matches!(stop.then, AfterStop::Start | AfterStop::NotReady)
                {
                    stop.then = AfterStop::Rest;
                }
                Ok(true)
            }
            Control::Start => {
                if child.has_run()
                    || matches!(child.state, ChildState::BackedOff | ChildState::Restarting)
                {
                    return Err(SupervisorError::ChildRunning {
                        supervisor: self.shared.name(),
                        child: child.name.to_string(),
                    });
                }
                child.held = false;
                self.start(id, now, spawn);
                Ok(false)
            }
            Control::Restart => {
                child.held = false;
                if child.is_live() {
                    if self.waiting == Some(id) {
                        self.waiting = None;
                    }
                    self.begin_stop(id, AfterStop::Start, now);
                    return Ok(true);
                }
                if child.has_run() {
                    // Stopping already: start it again once stopped (an operator's restart:
                    // a missed ready deadline it was stopping for is not counted).
                    if let Some(stop) = child.run_mut().and_then(|r| r.stop.as_mut())
                        && matches!(stop.then, AfterStop::Rest | AfterStop::NotReady)
                    {
                        stop.then = AfterStop::Start;
                    }
                    return Ok(true);
                }
                self.backed_off.retain(|&m| m != id);
                self.start(id, now, spawn);
                Ok(false)
            }
        }
    }

    /// What a request to start a child gets while the supervisor stops: whether it will be
    /// served again decides which.
    fn refusal_while_stopping(&self) -> Option<SupervisorError> {
        let Phase::Stopping(ending) = &self.phase else {
            return None;
        };
        let supervisor = self.shared.name();
        Some(if ending.is_final(self.shared.is_last_serve()) {
            SupervisorError::Finished { supervisor }
        } else {
            SupervisorError::NotRunning { supervisor }
        })
    }

    fn unknown_child(&self) -> SupervisorError {
        SupervisorError::UnknownChild {
            supervisor: self.shared.name(),
        }
    }

    fn children_info(&self, now: Instant) -> Vec<ChildInfo> {
        self.children
            .iter()
            .filter(|(_, c)| !c.is_removed())
            .map(|(id, c)| ChildInfo {
                token: self.shared.token(id),
                name: c.name.to_string(),
                path: c.path_in(&self.report.path),
                state: c.state,
                health: match c.supervisor() {
                    Some(handle)
                        if matches!(c.state, ChildState::Running | ChildState::Stopped) =>
                    {
                        handle.health()
                    }
                    _ => Health::of_state(c.state),
                },
                restart: c.restart,
                restarts: c.restarts(),
                last_error: c.last_error().map(LastError::text),
                uptime: c.run().map(|r| {
                    let since = self.clock.at(r.since).unwrap_or(now);
                    now.saturating_duration_since(since)
                }),
                supervisor: c.supervisor().cloned(),
            })
            .collect()
    }

    /// After the serve: how the subtree's children stopped at its shutdown (children that
    /// are supervisors kept their own tally).
    pub(crate) fn stop_tally(&self) -> StopTally {
        let mut tally = self.stops;
        for handle in self.children.values().filter_map(Child::supervisor) {
            tally += *handle.shared.stops();
        }
        tally
    }

    /// After a serve that ended normally: gives back what only a running serve uses (the
    /// deadline index, the work lists). A stopped supervisor then holds its children and
    /// little else, and a tree dropped whole frees less, on one thread, at its very end.
    pub(crate) fn release_buffers(&mut self) {
        self.deadlines.release_if_empty();
        if self.to_stop.is_empty() {
            self.to_stop = Vec::new();
        }
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        }
        if self.backed_off.is_empty() {
            self.backed_off = Vec::new();
        }
    }

    /// After the serve: children that are supervisors report their own unstopped services.
    pub(crate) fn nested_unstopped(&self) -> Vec<UnstoppedService> {
        self.children
            .values()
            .filter_map(Child::supervisor)
            .flat_map(|handle| handle.unstopped_services())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    //! The machine alone, without tokio: inputs in, effects and state out.

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::oneshot;

    use super::*;
    use crate::event::EventSink;
    use crate::service::{self, service_fn};
    use crate::spec::ChildSpec;
    use crate::supervisor::{Supervisor, SupervisorBuilder};

    /// Records what was started, and keeps each run's service to hand back at its end.
    #[derive(Default)]
    struct Fake {
        started: Vec<u64>,
        /// Which starts were first starts in their serve.
        first: Vec<bool>,
        services: HashMap<u64, Box<dyn DynService>>,
    }

    impl Spawn for Fake {
        fn spawn(&mut self, launch: Launch, service: Box<dyn DynService>) -> Option<AbortHandle> {
            self.started.push(launch.id);
            self.first.push(launch.first);
            self.services.insert(launch.id, service);
            None
        }
    }

    struct Rig {
        sup: Supervisor,
        fake: Fake,
        now: Instant,
    }

    impl Rig {
        fn new(builder: SupervisorBuilder) -> Rig {
            let sup = builder.build().unwrap();
            Rig {
                sup,
                fake: Fake::default(),
                now: Instant::now(),
            }
        }

        fn machine(&mut self) -> &mut Machine {
            &mut self.sup.machine
        }

        fn begin(&mut self) {
            let report = Reporter::new(Arc::from("app"), EventSink::new(None, None));
            let now = self.now;
            self.sup.machine.begin(report, now, &mut self.fake);
        }

        fn add(&mut self, id: u64, spec: ChildSpec) {
            let svc = service::boxed(service_fn("c", |_ctx| async { Ok(()) }));
            self.add_service(id, "c", svc, spec);
        }

        fn add_service(&mut self, id: u64, name: &str, svc: Box<dyn DynService>, spec: ChildSpec) {
            let name = self.sup.shared.names().claim(&Arc::new(name.to_owned()));
            let child = Child::new(name, svc, spec);
            let now = self.now;
            self.sup
                .machine
                .on_command(Command::Add { id, child }, now, &mut self.fake);
        }

        /// Asks `action` of child `id`; the answer comes on the receiver.
        fn control(
            &mut self,
            id: u64,
            action: Control,
        ) -> oneshot::Receiver<Result<(), SupervisorError>> {
            let (reply, answer) = oneshot::channel();
            let now = self.now;
            self.sup.machine.on_command(
                Command::Control { id, action, reply },
                now,
                &mut self.fake,
            );
            answer
        }

        /// Adds a child supervisor with one child, whose service sets `dropped` when it is
        /// dropped.
        fn add_watched_tree(&mut self, id: u64, dropped: &Arc<AtomicBool>) {
            struct Watch(Arc<AtomicBool>);
            impl Drop for Watch {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let watch = Watch(dropped.clone());
            let inner = Supervisor::builder("inner").build().unwrap();
            inner
                .add(service_fn("c", move |_ctx| {
                    let _ = &watch;
                    async { Ok(()) }
                }))
                .unwrap();
            self.add_service(id, "inner", service::boxed(inner), ChildSpec::new());
        }

        /// The run of `id` ends with `outcome`.
        fn end(&mut self, id: u64, outcome: Outcome) {
            let service = self.fake.services.remove(&id).expect("it runs");
            let now = self.now;
            self.sup
                .machine
                .on_exit(id, service, outcome, now, &mut self.fake);
        }

        fn fail(&mut self, id: u64) {
            self.end(id, Outcome::Returned(Err(ServiceError::msg("boom"))));
        }

        fn state(&mut self, id: u64) -> ChildState {
            self.machine().children.get(id).unwrap().state
        }
    }

    #[test]
    fn a_start_is_first_in_each_serve_and_a_restart_is_not() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new());
        rig.add(1, ChildSpec::new());
        rig.begin();
        rig.fail(0);
        assert_eq!(rig.fake.started, [0, 1, 0]);
        assert_eq!(rig.fake.first, [true, true, false]);
        let now = rig.now;
        rig.machine().on_cancel(now);
        rig.end(0, Outcome::Returned(Ok(())));
        rig.end(1, Outcome::Returned(Ok(())));
        assert!(rig.machine().take_ending().is_some(), "the serve is over");
        // Served again: its children start as they did the first time.
        rig.begin();
        assert_eq!(rig.fake.started, [0, 1, 0, 0, 1]);
        assert_eq!(rig.fake.first, [true, true, false, true, true]);
    }

    #[test]
    fn a_run_left_stopping_by_an_aborted_serve_keeps_its_uptime() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new());
        rig.begin();
        rig.now += Duration::from_secs(10);
        let now = rig.now;
        rig.machine().abandon(now);
        // Served again while the aborted run has not handed its service back yet.
        rig.begin();
        assert_eq!(rig.state(0), ChildState::Stopping);
        let info = rig.machine().children_info(now + Duration::from_secs(5));
        assert_eq!(info[0].uptime, Some(Duration::from_secs(15)));
    }

    #[test]
    fn a_last_serve_lets_go_of_each_child_supervisor_as_its_run_ends() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        let dropped = Arc::new(AtomicBool::new(false));
        rig.add_watched_tree(0, &dropped);
        rig.add(1, ChildSpec::new());
        rig.sup.shared.mark_last_serve();
        rig.begin();
        let now = rig.now;
        rig.machine().on_cancel(now);
        rig.end(0, Outcome::Returned(Ok(())));
        assert!(
            dropped.load(Ordering::SeqCst),
            "its subtree let go as its run ended, while its sibling still stops"
        );
        assert_eq!(rig.state(0), ChildState::Stopped, "and still listed");
        rig.end(1, Outcome::Returned(Ok(())));
        assert!(rig.machine().take_ending().is_some());
        assert_eq!(rig.machine().children.len(), 2);
        // Served again all the same (nothing public does that): the child let go neither
        // starts nor says it did.
        rig.begin();
        assert_eq!(rig.fake.started, [0, 1, 1]);
        assert_eq!(rig.state(0), ChildState::Stopped);
        let mut answer = rig.control(0, Control::Start);
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(SupervisorError::Finished { .. }))
        ));
        assert_eq!(rig.fake.started, [0, 1, 1]);
    }

    #[test]
    fn a_serve_that_may_come_again_keeps_every_child() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        let dropped = Arc::new(AtomicBool::new(false));
        rig.add_watched_tree(0, &dropped);
        rig.begin();
        let now = rig.now;
        rig.machine().on_cancel(now);
        rig.end(0, Outcome::Returned(Ok(())));
        assert!(rig.machine().take_ending().is_some());
        assert!(!dropped.load(Ordering::SeqCst), "kept for the next serve");
        rig.begin();
        assert_eq!(rig.fake.started, [0, 0], "and served again");
    }

    #[test]
    fn memory_follows_live_children_through_many_stops() {
        let mut rig = Rig::new(Supervisor::builder("app").shutdown(Duration::from_secs(3600)));
        rig.begin();
        for id in 0..100_000 {
            rig.add(id, ChildSpec::new());
            let (reply, mut answer) = oneshot::channel();
            let now = rig.now;
            rig.sup.machine.on_command(
                Command::Remove {
                    id,
                    reply,
                    stopped: None,
                },
                now,
                &mut rig.fake,
            );
            assert_eq!(answer.try_recv(), Ok(Ok(())));
            rig.end(id, Outcome::Returned(Ok(())));
        }
        assert_eq!(rig.sup.machine.deadlines.len(), 0);
        assert!(rig.sup.machine.children.is_empty());
        assert_eq!(rig.sup.machine.stopping, 0);
    }

    #[test]
    fn a_ready_gated_child_holds_the_next_through_its_restarts() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new().ready_within(Duration::from_secs(5)));
        rig.add(1, ChildSpec::new());
        rig.begin();
        assert_eq!(rig.fake.started, [0]);
        rig.fail(0);
        assert_eq!(rig.fake.started, [0, 0], "restarted; the next still waits");
        assert_eq!(rig.state(1), ChildState::Stopped);
        let now = rig.now;
        rig.sup.machine.on_ready(0, 2, now, &mut rig.fake);
        assert_eq!(rig.fake.started, [0, 0, 1]);
        assert!(rig.machine().take_started(), "start-up is complete");
    }

    #[test]
    fn a_child_before_a_gated_one_restarts_at_once_while_that_one_is_not_ready() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new());
        rig.add(1, ChildSpec::new().ready_within(Duration::from_secs(60)));
        rig.add(2, ChildSpec::new());
        rig.begin();
        assert_eq!(rig.fake.started, [0, 1]);
        rig.fail(0);
        assert_eq!(rig.fake.started, [0, 1, 0], "`0` does not depend on `1`");
        assert_eq!(rig.state(2), ChildState::Stopped, "`2` still waits");
    }

    #[test]
    fn a_gated_childs_own_restart_holds_no_one_once_start_up_is_done() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new().ready_within(Duration::from_secs(60)));
        rig.add(1, ChildSpec::new());
        rig.begin();
        let now = rig.now;
        rig.sup.machine.on_ready(0, 1, now, &mut rig.fake);
        assert!(rig.machine().take_started());
        rig.fail(0);
        rig.fail(1);
        rig.add(2, ChildSpec::new());
        assert_eq!(
            rig.fake.started,
            [0, 1, 0, 1, 2],
            "`1` restarts and `2` starts while `0` is not ready again"
        );
    }

    #[test]
    fn a_group_restarts_in_order_through_its_gated_member() {
        let mut rig = Rig::new(Supervisor::builder("app").strategy(Strategy::OneForAll));
        rig.add(0, ChildSpec::new());
        rig.add(1, ChildSpec::new().ready_within(Duration::from_secs(60)));
        rig.add(2, ChildSpec::new());
        rig.begin();
        let now = rig.now;
        rig.sup.machine.on_ready(1, 1, now, &mut rig.fake);
        assert_eq!(rig.fake.started, [0, 1, 2]);
        rig.fail(2);
        for id in [1, 0] {
            rig.end(id, Outcome::Returned(Ok(())));
        }
        assert_eq!(rig.fake.started, [0, 1, 2, 0, 1], "`2` waits for `1`");
        rig.sup.machine.on_ready(1, 2, now, &mut rig.fake);
        assert_eq!(rig.fake.started, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn requests_are_answered_while_a_child_is_not_ready() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new().ready_within(Duration::from_secs(5)));
        rig.begin();
        let (reply, mut answer) = oneshot::channel();
        let now = rig.now;
        rig.sup
            .machine
            .on_command(Command::Children { reply }, now, &mut rig.fake);
        let children = answer.try_recv().expect("answered at once");
        assert_eq!(children[0].state, ChildState::Starting);
    }

    #[test]
    fn a_ready_deadline_missed_is_a_failed_start() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new().ready_within(Duration::from_secs(5)));
        rig.begin();
        let later = rig.now + Duration::from_secs(5);
        assert_eq!(rig.machine().next_wakeup(), Some(later));
        rig.sup.machine.on_time(later, &mut rig.fake);
        assert_eq!(rig.state(0), ChildState::Stopping);
        rig.now = later;
        rig.end(0, Outcome::Aborted);
        assert_eq!(rig.fake.started, [0, 0], "restarted by the policy");
        let last = rig
            .machine()
            .children
            .get(0)
            .unwrap()
            .last_error()
            .unwrap()
            .text();
        assert!(last.contains("ready"), "{last}");
    }

    #[test]
    fn a_child_stopped_while_it_stops_for_its_ready_deadline_stays_stopped() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new().ready_within(Duration::from_secs(5)));
        rig.begin();
        rig.now += Duration::from_secs(5);
        let now = rig.now;
        rig.sup.machine.on_time(now, &mut rig.fake);
        assert_eq!(rig.state(0), ChildState::Stopping, "stopping, to fail");
        let mut stopped = rig.control(0, Control::Stop);
        rig.end(0, Outcome::Aborted);
        assert_eq!(stopped.try_recv(), Ok(Ok(())));
        assert_eq!(rig.fake.started, [0], "not restarted");
        assert_eq!(rig.state(0), ChildState::Stopped);
        assert_eq!(rig.machine().intensity.failures(), 0.0, "nothing counted");
        let mut started = rig.control(0, Control::Start);
        assert_eq!(started.try_recv(), Ok(Ok(())));
        assert_eq!(rig.fake.started, [0, 0]);
    }

    #[test]
    fn a_ready_gated_child_given_up_as_unstoppable_lets_start_up_go_on() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        let gated = ChildSpec::new()
            .ready_within(Duration::from_secs(5))
            .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
        rig.add(0, gated);
        rig.add(1, ChildSpec::new());
        rig.begin();
        // Not ready in time, then not stopped in its budget, nor when aborted.
        for after in [Duration::from_secs(5), Duration::from_secs(1), ABORT_GRACE] {
            rig.now += after;
            let now = rig.now;
            rig.sup.machine.on_time(now, &mut rig.fake);
        }
        assert_eq!(rig.machine().shared.unstopped().len(), 1, "reported");
        assert_eq!(rig.fake.started, [0, 1], "the next child starts");
        assert!(rig.machine().take_started(), "start-up is complete");
    }

    #[test]
    fn a_restart_overtaken_by_the_shutdown_says_it_did_not_happen() {
        let mut rig = Rig::new(Supervisor::builder("app"));
        rig.add(0, ChildSpec::new());
        rig.begin();
        let mut restarted = rig.control(0, Control::Restart);
        let now = rig.now;
        rig.sup.machine.on_cancel(now);
        rig.end(0, Outcome::Returned(Ok(())));
        assert_eq!(rig.fake.started, [0], "not started again");
        assert_eq!(
            restarted.try_recv(),
            Ok(Err(SupervisorError::NotRunning {
                supervisor: "app".into()
            }))
        );
    }

    #[test]
    fn endless_durations_mean_never_and_never_panic() {
        let mut rig = Rig::new(
            Supervisor::builder("app")
                .intensity(1, Duration::MAX)
                .backoff(Duration::MAX)
                .shutdown(Duration::MAX),
        );
        rig.add(0, ChildSpec::new());
        rig.begin();
        rig.fail(0);
        rig.fail(0);
        assert_eq!(rig.state(0), ChildState::BackedOff);
        assert_eq!(rig.machine().next_wakeup(), None, "backed off for ever");
        let now = rig.now;
        rig.sup.machine.on_cancel(now);
        assert!(rig.machine().take_ending().is_some(), "nothing ran: done");
    }

    #[test]
    fn the_clock_counts_from_its_first_instant_and_reads_back() {
        let mut clock = Clock::default();
        let first = Instant::now();
        assert_eq!(clock.since(first), 0);
        let later = first + Duration::from_millis(1500);
        assert_eq!(clock.since(later), 1_500_000_000);
        assert_eq!(clock.since(later), 1_500_000_000, "the same instant again");
        assert_eq!(
            clock.since(first),
            0,
            "an earlier instant after a later one"
        );
        assert_eq!(clock.at(1_500_000_000), Some(later));
    }

    #[test]
    fn a_stopped_child_touches_no_sibling_and_counts_nothing() {
        let mut rig = Rig::new(
            Supervisor::builder("app")
                .strategy(Strategy::OneForAll)
                .intensity(1, Duration::from_secs(30))
                .on_exceeded(OnExceeded::Escalate),
        );
        rig.add(0, ChildSpec::new());
        rig.add(1, ChildSpec::new());
        rig.begin();
        for _ in 0..3 {
            let _answer = rig.control(0, Control::Restart);
            rig.end(0, Outcome::Returned(Ok(())));
        }
        assert_eq!(rig.fake.started, [0, 1, 0, 0, 0]);
        assert_eq!(rig.state(1), ChildState::Running);
        assert!(
            !rig.machine().is_stopping(),
            "nothing counted: no escalation"
        );
    }
}
