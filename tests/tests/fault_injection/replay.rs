//! Replay against a reference model: flat trees of every strategy, in backoff (without
//! jitter) and escalate mode, driven one seeded order at a time on the paused clock. The
//! model predicts every start, every end's restart decision and failure count, every backoff
//! and escalation; the runtime's events must match it line for line, and each child's own
//! count of its starts must match the model's. `SUTURE_TRACE=1` prints each order given, to
//! follow a failing seed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use suture::testing::EventRecorder;
use suture::{
    ChildSpec, ChildState, ChildToken, Context, Event, EventKind, OnExceeded, Restart, Restarting,
    Service, ServiceError, ServiceResult, Shutdown, Strategy, Supervisor, SupervisorHandle,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::seeds;

const THRESHOLD: f64 = 3.0;
const HALF_LIFE: Duration = Duration::from_secs(1);
const BACKOFF: Duration = Duration::from_millis(300);
const BUDGET: Duration = Duration::from_millis(100);
const STEPS: usize = 1_500;
const MS: Duration = Duration::from_millis(1);

/// What the test tells a puppet's current incarnation to do.
enum Order {
    Fail,
    Panic,
    PanicWithValue,
    Return,
    DoNotRestart,
    /// Fails now, and its next incarnation fails again before calling `ready`.
    FailTwice,
    /// Adds a sibling through the supervisor's handle (and keeps running).
    Add(Box<Puppet>, oneshot::Sender<ChildToken>),
    /// Removes a sibling through the supervisor's handle (and keeps running).
    Remove(ChildToken),
}

/// A child that does what it is told, one order per incarnation.
struct Puppet {
    name: String,
    restart: Restart,
    orders: mpsc::UnboundedReceiver<Order>,
    starts: Arc<AtomicU64>,
    fail_before_ready: bool,
    parent: SupervisorHandle,
}

impl Service for Puppet {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        self.starts.fetch_add(1, Ordering::SeqCst);
        if std::mem::take(&mut self.fail_before_ready) {
            return Err(ServiceError::msg("failed before ready"));
        }
        ctx.ready();
        loop {
            let order = tokio::select! {
                biased;
                _ = ctx.cancelled() => return Ok(()),
                order = self.orders.recv() => order,
            };
            match order {
                None => {
                    ctx.cancelled().await;
                    return Ok(());
                }
                Some(Order::Fail) => return Err(ServiceError::msg("told to fail")),
                Some(Order::Panic) => panic!("told to panic"),
                Some(Order::PanicWithValue) => std::panic::panic_any(42_u32),
                Some(Order::Return) => return Ok(()),
                Some(Order::DoNotRestart) => return Err(ServiceError::do_not_restart()),
                Some(Order::FailTwice) => {
                    self.fail_before_ready = true;
                    return Err(ServiceError::msg("told to fail twice"));
                }
                Some(Order::Add(puppet, reply)) => {
                    let token = self.parent.add(*puppet).expect("its supervisor runs");
                    let _ = reply.send(token);
                }
                Some(Order::Remove(token)) => {
                    self.parent
                        .remove(token)
                        .await
                        .expect("the sibling is known");
                }
            }
        }
    }

    fn name(&self) -> std::borrow::Cow<'static, str> {
        self.name.clone().into()
    }

    fn child_spec(&self) -> ChildSpec {
        ChildSpec::new()
            .restart(self.restart)
            .ready_within(Duration::from_secs(1))
            .shutdown(Shutdown::Timeout(BUDGET))
    }
}

// ---- the model ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Failed,
    Panicked,
    PanickedWithValue,
    Normal,
    DoNotRestart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Waiting for the backoff to end.
    Queued,
    /// Ended and not restarting (a transient child's normal return), or stopped with its
    /// supervisor.
    Stopped,
}

struct Child {
    name: String,
    restart: Restart,
    state: State,
    starts: u64,
    fail_next_start: bool,
}

/// The policy, written as plainly as possible (DESIGN.md, "Supervisors").
struct Model {
    strategy: Strategy,
    escalate: bool,
    failures: f64,
    last_failure: Option<Instant>,
    backoff_until: Option<Instant>,
    queue: Vec<usize>,
    /// By id: ids grow with each add, as the runtime's do, so this is start order.
    children: BTreeMap<usize, Child>,
    escalations: u64,
    lines: Vec<String>,
}

impl Model {
    fn running(&self) -> Vec<usize> {
        self.children
            .iter()
            .filter(|(_, c)| c.state == State::Running)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Starts children in order. In `order` (a serve's start-up, a group restart), a child
    /// that fails before `ready` is handled at once: the next child starts only once it has
    /// been restarted and is ready (the start-up gate). Otherwise (restarts of their own, as
    /// one_for_one's after a backoff) none waits for another: they all start, then the
    /// failures are handled in the order they started.
    fn start(&mut self, ids: &[usize], order: bool, now: Instant) {
        let mut failed = Vec::new();
        for &id in ids {
            let Some(child) = self.children.get_mut(&id) else {
                continue;
            };
            if child.state == State::Running {
                continue;
            }
            if self.backoff_until.is_some() && child.starts > 0 {
                // A restart still due when the backoff began waits for its end.
                child.state = State::Queued;
                self.queue.push(id);
                continue;
            }
            child.state = State::Running;
            child.starts += 1;
            self.lines.push(format!(
                "started {} restarts={}",
                child.name,
                child.starts - 1
            ));
            if std::mem::take(&mut child.fail_next_start) {
                if order {
                    self.end(id, End::Failed, now);
                } else {
                    failed.push(id);
                }
            }
        }
        for id in failed {
            self.end(id, End::Failed, now);
        }
    }

    /// Whether restarts go in order: with their group, as at start-up.
    fn in_groups(&self) -> bool {
        self.strategy != Strategy::OneForOne
    }

    fn count_failure(&mut self, now: Instant) -> bool {
        self.failures = match self.last_failure {
            None => 1.0,
            Some(last) => {
                let elapsed = now.saturating_duration_since(last).as_secs_f64();
                self.failures * 0.5f64.powf(elapsed / HALF_LIFE.as_secs_f64()) + 1.0
            }
        };
        self.last_failure = Some(now);
        self.failures > THRESHOLD
    }

    fn report(&mut self, id: usize, end: End, restarting: Restarting) {
        let name = &self.children[&id].name;
        let what = match end {
            End::Failed => format!("failed {name}"),
            End::Normal | End::DoNotRestart => format!("returned {name}"),
            End::Panicked => format!("panicked {name}: told to panic"),
            End::PanickedWithValue => format!("panicked {name}: non-string panic payload"),
        };
        self.lines.push(format!(
            "{what} {restarting:?} failures={:.6}",
            self.failures
        ));
    }

    fn end(&mut self, id: usize, end: End, now: Instant) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        child.state = State::Stopped;
        let restart = child.restart;
        let restarts = match (end, restart) {
            (End::DoNotRestart, _) => false,
            (End::Normal, Restart::Permanent) => true,
            (End::Normal, _) => false,
            (_, Restart::Temporary) => false,
            _ => true,
        };
        if !restarts {
            self.report(id, end, Restarting::No);
            if restart == Restart::Temporary || end == End::DoNotRestart {
                self.children.remove(&id);
            }
            return;
        }
        let exceeded = self.count_failure(now);
        if exceeded && self.escalate {
            self.report(id, end, Restarting::No);
            self.lines
                .push(format!("escalated failures={:.6}", self.failures));
            self.escalate_and_restart(now);
            return;
        }
        if exceeded {
            self.backoff_until = Some(now + BACKOFF);
            self.lines.push(format!(
                "backoff failures={:.6} pause={BACKOFF:?}",
                self.failures
            ));
        }
        if self.backoff_until.is_some() {
            self.report(id, end, Restarting::AfterBackoff);
            let group = self.stop_group(id);
            for member in &group {
                if let Some(child) = self.children.get_mut(member) {
                    child.state = State::Queued;
                }
            }
            self.queue.extend(group);
            return;
        }
        self.report(id, end, Restarting::Now);
        let group = self.stop_group(id);
        self.start(&group, self.in_groups(), now);
    }

    /// Stops the failed child's group; returns who restarts, in start order.
    fn stop_group(&mut self, failed: usize) -> Vec<usize> {
        let members: Vec<usize> = match self.strategy {
            Strategy::OneForAll => self.children.keys().copied().collect(),
            Strategy::RestForOne => self.children.range(failed..).map(|(&id, _)| id).collect(),
            _ => return vec![failed],
        };
        let mut restart = Vec::new();
        for id in members {
            if id == failed {
                restart.push(id);
                continue;
            }
            let child = self.children.get_mut(&id).expect("a member");
            if child.state != State::Running {
                continue; // finished or queued: left as it is
            }
            child.state = State::Stopped;
            if child.restart == Restart::Temporary {
                self.children.remove(&id);
            } else {
                restart.push(id);
            }
        }
        restart
    }

    /// The supervisor stops every child and fails; its parent serves it again at once.
    fn escalate_and_restart(&mut self, now: Instant) {
        self.escalations += 1;
        for child in self.children.values_mut() {
            child.state = State::Stopped;
        }
        self.failures = 0.0;
        self.last_failure = None;
        self.backoff_until = None;
        self.queue.clear();
        let all: Vec<usize> = self.children.keys().copied().collect();
        self.start(&all, true, now);
    }

    /// Ends a due backoff at its deadline: queued children restart in the order they failed.
    fn resume(&mut self) {
        let Some(at) = self.backoff_until.take() else {
            return;
        };
        self.failures = 0.0;
        self.lines.push("backoff ended".into());
        let mut seen = HashSet::new();
        let queued: Vec<usize> = std::mem::take(&mut self.queue)
            .into_iter()
            .filter(|id| seen.insert(*id))
            .collect();
        self.start(&queued, self.in_groups(), at);
    }
}

/// The runtime's events of one supervisor, in the model's words.
fn line(event: &Event) -> String {
    match &event.kind {
        EventKind::Started { service, restarts } => {
            format!("started {service} restarts={restarts}")
        }
        EventKind::Terminated {
            service,
            error,
            restarting,
            failures,
        } => {
            let what = if error.is_some() {
                "failed"
            } else {
                "returned"
            };
            format!("{what} {service} {restarting:?} failures={failures:.6}")
        }
        EventKind::Panicked {
            service,
            message,
            restarting,
            failures,
            ..
        } => format!("panicked {service}: {message} {restarting:?} failures={failures:.6}"),
        EventKind::BackoffStarted { pause, failures } => {
            format!("backoff failures={failures:.6} pause={pause:?}")
        }
        EventKind::BackoffEnded => "backoff ended".into(),
        EventKind::Escalated { failures, .. } => format!("escalated failures={failures:.6}"),
        other => format!("unexpected {other:?}"),
    }
}

// ---- the driver -----------------------------------------------------------------------

struct Driver {
    rng: fastrand::Rng,
    handle: SupervisorHandle,
    model: Model,
    orders: BTreeMap<usize, mpsc::UnboundedSender<Order>>,
    tokens: BTreeMap<usize, ChildToken>,
    starts: BTreeMap<usize, Arc<AtomicU64>>,
    next_id: usize,
}

impl Driver {
    /// A new puppet with a seeded restart type, known to the model (not yet started).
    fn puppet(&mut self) -> (usize, Puppet) {
        let id = self.next_id;
        self.next_id += 1;
        let restart = match self.rng.u32(..100) {
            0..60 => Restart::Permanent,
            60..85 => Restart::Transient,
            _ => Restart::Temporary,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let starts = Arc::new(AtomicU64::new(0));
        self.orders.insert(id, tx);
        self.starts.insert(id, starts.clone());
        let name = format!("p{id}");
        self.model.children.insert(
            id,
            Child {
                name: name.clone(),
                restart,
                state: State::Stopped,
                starts: 0,
                fail_next_start: false,
            },
        );
        let puppet = Puppet {
            name,
            restart,
            orders: rx,
            starts,
            fail_before_ready: false,
            parent: self.handle.clone(),
        };
        (id, puppet)
    }

    /// Forgets what the test kept of children the model has dropped.
    fn prune(&mut self) {
        let model = &self.model;
        self.orders.retain(|id, _| model.children.contains_key(id));
        self.tokens.retain(|id, _| model.children.contains_key(id));
    }

    /// One step: let seeded time pass (ending due backoffs on the way, never on the same
    /// tick as a step), then give one running child one seeded order.
    async fn step(&mut self, ctx: &str) {
        let gap = if self.rng.u32(..10) == 0 {
            self.rng.u64(200..3_000)
        } else {
            self.rng.u64(0..40)
        };
        let mut at = Instant::now() + Duration::from_millis(gap);
        while let Some(due) = self.model.backoff_until
            && due <= at + 2 * MS
        {
            sleep_until(due + MS).await;
            self.model.resume();
            at = at.max(Instant::now() + 2 * MS);
        }
        sleep_until(at).await;
        let now = Instant::now();

        let running = self.model.running();
        if running.is_empty() {
            if self.model.backoff_until.is_none() {
                // Nothing runs and nothing will: a newcomer, added from outside.
                let (id, puppet) = self.puppet();
                let token = self.handle.add(puppet).expect("the supervisor runs");
                self.tokens.insert(id, token);
                self.model.start(&[id], true, now);
                suture::testing::settle().await;
            }
            return;
        }
        let who = running[self.rng.usize(..running.len())];
        let size = self.model.children.len();
        let others: Vec<usize> = self
            .tokens
            .keys()
            .copied()
            .filter(|&id| id != who)
            .collect();
        let (order, end) = match self.rng.u32(..100) {
            0..30 => (Order::Fail, Some(End::Failed)),
            30..38 => (Order::Panic, Some(End::Panicked)),
            38..44 => (Order::PanicWithValue, Some(End::PanickedWithValue)),
            44..60 => (Order::Return, Some(End::Normal)),
            60..64 => (Order::DoNotRestart, Some(End::DoNotRestart)),
            64..74 => (Order::FailTwice, Some(End::Failed)),
            74..88 if size < 12 => {
                let (id, puppet) = self.puppet();
                let (reply, token) = oneshot::channel();
                self.orders[&who]
                    .send(Order::Add(Box::new(puppet), reply))
                    .expect("the puppet listens");
                self.model.start(&[id], true, now);
                suture::testing::settle().await;
                let token = tokio::time::timeout(Duration::from_secs(1), token)
                    .await
                    .unwrap_or_else(|_| panic!("{ctx}: an add from inside `serve` hung"))
                    .unwrap_or_else(|_| panic!("{ctx}: the adding puppet vanished"));
                self.tokens.insert(id, token);
                return;
            }
            88..100 if size > 3 && !others.is_empty() => {
                let target = others[self.rng.usize(..others.len())];
                self.orders[&who]
                    .send(Order::Remove(self.tokens[&target]))
                    .expect("the puppet listens");
                self.model.children.remove(&target);
                self.prune();
                suture::testing::settle().await;
                return;
            }
            _ => (Order::Fail, Some(End::Failed)),
        };
        if matches!(order, Order::FailTwice) {
            self.model
                .children
                .get_mut(&who)
                .expect("running")
                .fail_next_start = true;
        }
        if std::env::var_os("SUTURE_TRACE").is_some() {
            eprintln!(
                "{now:?} p{who} {end:?} twice={}",
                matches!(order, Order::FailTwice)
            );
        }
        self.orders[&who].send(order).expect("the puppet listens");
        if let Some(end) = end {
            self.model.end(who, end, now);
        }
        self.prune();
        suture::testing::settle().await;
    }
}

async fn replay(seed: u64, strategy: Strategy, escalate: bool) -> usize {
    let mode = if escalate { "escalate" } else { "backoff" };
    let ctx = format!(
        "replay of flat {strategy:?} ({mode}), seed {seed} (replay with SUTURE_SEED={seed})"
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();

    let recorder = EventRecorder::new();
    let root = Supervisor::builder("root")
        .intensity(1e9, Duration::from_secs(1))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let mut builder = Supervisor::builder("flat")
        .strategy(strategy)
        .intensity(THRESHOLD, HALF_LIFE)
        .shutdown(BUDGET);
    builder = if escalate {
        builder.on_exceeded(OnExceeded::Escalate)
    } else {
        builder.backoff(BACKOFF).jitter(0.0)
    };
    let flat = builder.build().unwrap();
    let mut driver = Driver {
        rng: fastrand::Rng::with_seed(seed),
        handle: flat.handle(),
        model: Model {
            strategy,
            escalate,
            failures: 0.0,
            last_failure: None,
            backoff_until: None,
            queue: Vec::new(),
            children: BTreeMap::new(),
            escalations: 0,
            lines: Vec::new(),
        },
        orders: BTreeMap::new(),
        tokens: BTreeMap::new(),
        starts: BTreeMap::new(),
        next_id: 0,
    };
    for _ in 0..5 {
        let (id, puppet) = driver.puppet();
        let token = flat.add(puppet).unwrap();
        driver.tokens.insert(id, token);
    }
    root.add(flat).unwrap();

    let stop = CancellationToken::new();
    let mut task = root.serve_background(Context::new(stop.clone())).await;
    let all: Vec<usize> = driver.model.children.keys().copied().collect();
    driver.model.start(&all, true, Instant::now());
    suture::testing::settle().await;

    for _ in 0..STEPS {
        tokio::time::timeout(Duration::from_secs(60), driver.step(&ctx))
            .await
            .unwrap_or_else(|_| panic!("{ctx}: a step hung"));
        assert!(
            !task.is_finished(),
            "{ctx}: the tree ended: {:?}",
            (&mut task).await
        );
    }

    // The live snapshot agrees with the model.
    let children = driver.handle.children().await.expect("running");
    let seen: BTreeMap<String, (ChildState, u64)> = children
        .iter()
        .map(|c| (c.name.clone(), (c.state, c.restarts)))
        .collect();
    let expected: BTreeMap<String, (ChildState, u64)> = driver
        .model
        .children
        .values()
        .map(|c| {
            let state = match c.state {
                State::Running => ChildState::Running,
                State::Queued => ChildState::BackedOff,
                State::Stopped => ChildState::Stopped,
            };
            (c.name.clone(), (state, c.starts.saturating_sub(1)))
        })
        .collect();
    assert_eq!(seen, expected, "{ctx}: the children's snapshot");

    // Shutdown: every puppet stops when told, so well within the sum of the budgets.
    let bound = BUDGET * u32::try_from(children.len()).unwrap();
    let began = Instant::now();
    stop.cancel();
    let result = tokio::time::timeout(bound * 10 + Duration::from_secs(1), task)
        .await
        .unwrap_or_else(|_| panic!("{ctx}: the tree did not stop"))
        .unwrap_or_else(|e| panic!("{ctx}: the root's task failed: {e}"));
    assert!(result.is_ok(), "{ctx}: the root returned {result:?}");
    let took = began.elapsed();
    assert!(
        took <= bound,
        "{ctx}: shutdown took {took:?}, more than {bound:?}"
    );

    // Line for line, the flat supervisor did what the model says.
    let events = recorder.events();
    let observed: Vec<String> = events
        .iter()
        .filter(|e| &*e.supervisor == "root/flat")
        .map(line)
        .collect();
    if let Some(at) = (0..observed.len().max(driver.model.lines.len()))
        .find(|&i| observed.get(i) != driver.model.lines.get(i))
    {
        let from = at.saturating_sub(12);
        panic!(
            "{ctx}: the events differ from the model's at line {at}\nobserved:\n  {}\nmodel:\n  {}",
            observed[from..observed.len().min(at + 3)].join("\n  "),
            driver.model.lines[from..driver.model.lines.len().min(at + 3)].join("\n  "),
        );
    }
    // Each child counted its own starts; the root restarted `flat` once per escalation.
    for (id, child) in &driver.model.children {
        let counted = driver.starts[id].load(Ordering::SeqCst);
        assert_eq!(counted, child.starts, "{ctx}: starts of `{}`", child.name);
    }
    let restarted = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Started { service, restarts } if &**service == "flat" && *restarts > 0))
        .count() as u64;
    assert_eq!(restarted, driver.model.escalations, "{ctx}: escalations");
    if !escalate {
        assert_eq!(driver.model.escalations, 0);
    }

    // No task left behind (the puppets' and the supervisors' all ended).
    drop(driver);
    suture::testing::settle().await;
    assert_eq!(
        metrics.num_alive_tasks(),
        baseline,
        "{ctx}: tasks left behind"
    );
    events.len()
}

async fn replay_all(strategy: Strategy) {
    for seed in seeds() {
        for escalate in [false, true] {
            let events = replay(seed, strategy, escalate).await;
            assert!(
                events >= 1_000,
                "{strategy:?}, seed {seed}: only {events} events"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn flat_one_for_one_replays_the_model() {
    replay_all(Strategy::OneForOne).await;
}

#[tokio::test(start_paused = true)]
async fn flat_one_for_all_replays_the_model() {
    replay_all(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn flat_rest_for_one_replays_the_model() {
    replay_all(Strategy::RestForOne).await;
}
