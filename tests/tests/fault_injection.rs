//! Fault injection: trees of several shapes whose services misbehave in every way a real
//! service can, chosen by a seeded generator, run through thousands of events and shut down.
//! Then the promises are checked: nothing panicked or hung, shutdown stayed within its
//! budgets, every child is accounted for, the events match what happened, no task is left.
//!
//! Deterministic by seed: set `SUTURE_SEED` to replay one; a failure names its seed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use suture::testing::EventRecorder;
use suture::{
    ChildSpec, Context, Event, EventKind, OnExceeded, Restart, Service, ServiceError,
    ServiceResult, Shutdown, ShutdownOrder, Strategy, Supervisor, SupervisorHandle,
};
use suture_tests::ABORT_GRACE;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[path = "fault_injection/replay.rs"]
mod replay;

const BUDGET: Duration = Duration::from_millis(200);

/// Every way a service may end one incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fault {
    Error,
    ReturnOk,
    Panic,
    PanicWithValue,
    /// Ignores cancellation for a while; a guard in its state panics if dropped meanwhile.
    PanicInDropOnAbort,
    /// Ignores cancellation while awaiting, for longer than its budget, then fails.
    Hang,
    /// Blocks its thread for a moment, then fails.
    Block,
    FailBeforeReady,
    DoNotRestart,
    TerminateTree,
    /// Adds a temporary sibling through its supervisor's handle, then removes it.
    AddAndRemoveSibling,
    /// Runs a while (or until cancelled), then returns.
    Run,
}

const FAULTS: &[Fault] = &[
    Fault::Error,
    Fault::Error,
    Fault::Error,
    Fault::ReturnOk,
    Fault::Panic,
    Fault::PanicWithValue,
    Fault::PanicInDropOnAbort,
    Fault::Hang,
    Fault::Block,
    Fault::FailBeforeReady,
    Fault::DoNotRestart,
    Fault::TerminateTree,
    Fault::AddAndRemoveSibling,
    Fault::Run,
    Fault::Run,
];

/// What the services did, by name: starts, ends, and the faults they chose.
#[derive(Default)]
struct Ledger {
    starts: Mutex<HashMap<String, u64>>,
    ends: Mutex<HashMap<String, u64>>,
    faults: Mutex<HashMap<Fault, u64>>,
    siblings: AtomicU64,
}

impl Ledger {
    fn bump(map: &Mutex<HashMap<String, u64>>, name: &str) {
        *map.lock().unwrap().entry(name.to_owned()).or_default() += 1;
    }
}

struct Ends(Arc<Ledger>, String);

impl Drop for Ends {
    fn drop(&mut self) {
        Ledger::bump(&self.0.ends, &self.1);
    }
}

/// Panics when dropped before it is disarmed: when its incarnation is aborted.
struct PanicsOnDrop {
    armed: bool,
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            panic!("a destructor panicked during abort");
        }
    }
}

struct Chaos {
    name: String,
    rng: fastrand::Rng,
    ledger: Arc<Ledger>,
    parent: Option<SupervisorHandle>,
    /// Whether this service may end its tree (only some are given the right, so that the
    /// trees live long enough to see every other fault).
    may_terminate: bool,
}

impl Service for Chaos {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        Ledger::bump(&self.ledger.starts, &self.name);
        let _ends = Ends(self.ledger.clone(), self.name.clone());
        let mut fault = FAULTS[self.rng.usize(..FAULTS.len())];
        // Only some may end their tree, and rarely, so that trees live long enough to see
        // every other fault.
        if fault == Fault::TerminateTree && !(self.may_terminate && self.rng.u32(..20) == 0) {
            fault = Fault::Error;
        }
        *self.ledger.faults.lock().unwrap().entry(fault).or_default() += 1;
        if fault == Fault::FailBeforeReady {
            return Err(ServiceError::msg("failed before ready"));
        }
        ctx.ready();
        let run_for = Duration::from_millis(self.rng.u64(1..400));
        tokio::select! {
            _ = ctx.cancelled() => return Ok(()),
            _ = tokio::time::sleep(run_for) => {}
        }
        match fault {
            Fault::Error | Fault::FailBeforeReady => Err(ServiceError::msg("chaos")),
            Fault::ReturnOk => Ok(()),
            Fault::Panic => panic!("chaos"),
            Fault::PanicWithValue => std::panic::panic_any(7_u8),
            Fault::PanicInDropOnAbort => {
                let mut guard = PanicsOnDrop { armed: true };
                // Deaf to cancellation for a while: a stop meanwhile aborts it.
                tokio::time::sleep(Duration::from_millis(self.rng.u64(100..2_000))).await;
                guard.armed = false;
                Err(ServiceError::msg("slow, then failed"))
            }
            Fault::Hang => {
                let until = Instant::now() + Duration::from_millis(self.rng.u64(100..2_000));
                while Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(ServiceError::msg("hung, then failed"))
            }
            Fault::Block => {
                std::thread::sleep(Duration::from_micros(200));
                Err(ServiceError::msg("blocked, then failed"))
            }
            Fault::DoNotRestart => {
                // Leaves for good, handing its place to a successor so the tree keeps its size.
                if let Some(parent) = &self.parent {
                    let successor = Chaos {
                        name: self.name.clone(),
                        rng: fastrand::Rng::with_seed(self.rng.u64(..)),
                        ledger: self.ledger.clone(),
                        parent: Some(parent.clone()),
                        may_terminate: self.may_terminate,
                    };
                    let _ = parent.add(successor);
                }
                Err(ServiceError::do_not_restart())
            }
            Fault::TerminateTree => Err(ServiceError::terminate_tree()),
            Fault::AddAndRemoveSibling => {
                if let Some(parent) = &self.parent {
                    let sibling = suture::service_fn("sibling", |ctx: Context| async move {
                        ctx.cancelled().await;
                        Ok(())
                    });
                    let spec = ChildSpec::new().restart(Restart::Temporary);
                    if let Ok(token) = parent.add_with(sibling, spec) {
                        self.ledger.siblings.fetch_add(1, Ordering::Relaxed);
                        // The supervisor may be stopping: any answer is fine, none may hang.
                        let _ = parent.remove(token).await;
                    }
                }
                Ok(())
            }
            Fault::Run => {
                // Runs a while, then returns: permanent children start again.
                let more = Duration::from_millis(self.rng.u64(100..3_000));
                tokio::select! {
                    _ = ctx.cancelled() => {}
                    _ = tokio::time::sleep(more) => {}
                }
                Ok(())
            }
        }
    }

    fn name(&self) -> std::borrow::Cow<'static, str> {
        self.name.clone().into()
    }

    fn child_spec(&self) -> ChildSpec {
        ChildSpec::new()
            .shutdown(Shutdown::Timeout(BUDGET))
            .ready_within(Duration::from_secs(1))
    }
}

/// A tree to torture, and what is needed to check it.
struct Shape {
    name: &'static str,
    /// Strategy and mode, for messages.
    detail: String,
    root: Supervisor,
    /// Leaf services (`Chaos`), which all stop within `BUDGET` plus the abort grace.
    leaves: u32,
    /// The depth of the deepest leaf below the root.
    depth: u32,
}

fn policy(
    name: String,
    strategy: Strategy,
    escalate: bool,
    recorder: Option<&EventRecorder>,
) -> suture::SupervisorBuilder {
    let mut builder = Supervisor::builder(name)
        .strategy(strategy)
        .intensity(5, Duration::from_secs(2))
        .shutdown(BUDGET);
    builder = if escalate {
        builder.on_exceeded(OnExceeded::Escalate)
    } else {
        builder.backoff(Duration::from_millis(500)).jitter(0.5)
    };
    if let Some(recorder) = recorder {
        builder = builder.event_hook(recorder.hook());
    }
    builder
}

fn chaos(
    name: String,
    seed: u64,
    ledger: &Arc<Ledger>,
    parent: &Supervisor,
    may_terminate: bool,
) -> Chaos {
    Chaos {
        name,
        rng: fastrand::Rng::with_seed(seed),
        ledger: ledger.clone(),
        parent: Some(parent.handle()),
        may_terminate,
    }
}

/// Flat: every leaf under one supervisor of the given strategy, itself under a root that
/// restarts it when it escalates.
fn flat(
    seed: u64,
    ledger: &Arc<Ledger>,
    recorder: &EventRecorder,
    strategy: Strategy,
    escalate: bool,
) -> Shape {
    let mut rng = fastrand::Rng::with_seed(seed);
    let sup = policy("flat".into(), strategy, escalate, None)
        .build()
        .expect("valid settings");
    for i in 0..8 {
        sup.add(chaos(format!("leaf{i}"), rng.u64(..), ledger, &sup, false))
            .unwrap();
    }
    let root = Supervisor::builder("root")
        .intensity(1000, Duration::from_secs(1))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(sup).unwrap();
    Shape {
        name: "flat",
        detail: format!(
            "{strategy:?}, {}",
            if escalate { "escalate" } else { "backoff" }
        ),
        root,
        leaves: 8,
        depth: 2,
    }
}

/// Deep: a chain of four supervisors, two leaves at each level; the innermost may end it.
fn deep(seed: u64, ledger: &Arc<Ledger>, recorder: &EventRecorder) -> Shape {
    let mut rng = fastrand::Rng::with_seed(seed);
    let strategies = [
        Strategy::OneForOne,
        Strategy::RestForOne,
        Strategy::OneForAll,
        Strategy::OneForOne,
    ];
    let mut inner: Option<Supervisor> = None;
    for (level, strategy) in strategies.iter().enumerate().rev() {
        let hook = (level == 0).then_some(recorder);
        // Termination from below stops at level 2: it is dropped, the rest goes on.
        let sup = policy(format!("level{level}"), *strategy, level % 2 == 1, hook)
            .propagate_termination(level != 2)
            .build()
            .expect("valid settings");
        for i in 0..2 {
            let may_terminate = level == 3 && i == 0;
            sup.add(chaos(
                format!("l{level}c{i}"),
                rng.u64(..),
                ledger,
                &sup,
                may_terminate,
            ))
            .unwrap();
        }
        if let Some(child) = inner.take() {
            sup.add(child).unwrap();
        }
        inner = Some(sup);
    }
    Shape {
        name: "deep",
        detail: "four levels".into(),
        root: inner.unwrap(),
        leaves: 8,
        depth: 4,
    }
}

/// Wide: a root over six groups (every strategy, backoff and escalate), five leaves each, with
/// concurrent shutdown in half of them.
fn wide(seed: u64, ledger: &Arc<Ledger>, recorder: &EventRecorder) -> Shape {
    let mut rng = fastrand::Rng::with_seed(seed);
    let root = Supervisor::builder("wide")
        .intensity(1000, Duration::from_secs(1))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let mut leaves = 0;
    for (g, strategy) in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ]
    .into_iter()
    .enumerate()
    {
        for escalate in [false, true] {
            let mut builder = Supervisor::builder(format!("g{g}{escalate}"))
                .strategy(strategy)
                .intensity(5, Duration::from_secs(2))
                .shutdown(BUDGET)
                .shutdown_order(if escalate {
                    ShutdownOrder::Concurrent
                } else {
                    ShutdownOrder::Reverse
                });
            builder = if escalate {
                builder.on_exceeded(OnExceeded::Escalate)
            } else {
                builder.backoff(Duration::from_millis(300))
            };
            let group = builder.build().unwrap();
            for i in 0..5 {
                group
                    .add(chaos(
                        format!("g{g}{escalate}c{i}"),
                        rng.u64(..),
                        ledger,
                        &group,
                        false,
                    ))
                    .unwrap();
                leaves += 1;
            }
            root.add(group).unwrap();
        }
    }
    Shape {
        name: "wide",
        detail: "six groups".into(),
        root,
        leaves,
        depth: 2,
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("SUTURE_SEED") {
        Ok(seed) => vec![seed.parse().expect("SUTURE_SEED is a number")],
        Err(_) => vec![1, 2, 3],
    }
}

/// Runs `shape` for `run_for` of virtual time (or until it ends by itself), shuts it down,
/// and checks every promise.
async fn torture(
    seed: u64,
    shape: Shape,
    ledger: Arc<Ledger>,
    recorder: EventRecorder,
    run_for: Duration,
) {
    let name = shape.name;
    let ctx = format!(
        "shape `{name}` ({}), seed {seed} (replay with SUTURE_SEED={seed})",
        shape.detail
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let handle = shape.root.handle();

    let stop = CancellationToken::new();
    let mut task = shape
        .root
        .serve_background(Context::new(stop.clone()))
        .await;
    // Meanwhile, children come and go through the root's handle from outside the tree.
    let adder = tokio::spawn({
        let handle = handle.clone();
        async move {
            loop {
                let _ = handle.add_with(
                    suture::service_fn("dynamic", |_ctx: Context| async { Ok(()) }),
                    ChildSpec::new().restart(Restart::Temporary),
                );
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        }
    });

    let ended_by_itself = tokio::select! {
        result = &mut task => Some(result),
        _ = tokio::time::sleep(run_for) => None,
    };
    adder.abort();
    let _ = adder.await;

    // Shutdown, bounded by the budgets: each leaf its budget plus the abort grace, one at a
    // time in the worst case (reverse order), and each supervisor level the same again.
    let bound = (BUDGET + ABORT_GRACE) * (shape.leaves + shape.depth * 2 + 8);
    let began = Instant::now();
    stop.cancel();
    let result = match ended_by_itself {
        Some(result) => result,
        None => tokio::time::timeout(bound * 10, &mut task)
            .await
            .unwrap_or_else(|_| panic!("{ctx}: the tree did not stop (deadlock?)")),
    };
    let took = began.elapsed();
    let result = result.unwrap_or_else(|e| panic!("{ctx}: the supervisor task failed: {e}"));
    if let Err(error) = &result {
        // A tree may end by itself only by escalation or termination reaching the root.
        assert!(
            error.is_terminate_tree() || error.to_string().contains("intensity"),
            "{ctx}: the root failed with {error}"
        );
    }
    assert!(
        took <= bound,
        "{ctx}: shutdown took {took:?}, more than {bound:?}"
    );

    // Every incarnation that started has ended; nothing is reported unstopped (nothing here
    // blocks its thread for longer than the abort grace).
    let starts = ledger.starts.lock().unwrap().clone();
    let ends = ledger.ends.lock().unwrap().clone();
    assert_eq!(starts, ends, "{ctx}: an incarnation never ended");
    assert!(
        handle.unstopped_services().is_empty(),
        "{ctx}: unstopped: {:?}",
        handle.unstopped_services()
    );

    // The events agree with what the services did.
    let events = recorder.events();
    let started = count_by_service(&events, |k| matches!(k, EventKind::Started { .. }));
    for (service, n) in &starts {
        assert_eq!(
            started.get(service.as_str()).copied().unwrap_or(0),
            *n,
            "{ctx}: `{service}` started {n} times, but its Started events disagree"
        );
    }
    let ended = count_by_service(&events, |k| {
        matches!(k, EventKind::Terminated { .. } | EventKind::Panicked { .. })
    });
    for (service, n) in &ended {
        let begun = started.get(service).copied().unwrap_or(0);
        assert!(
            *n <= begun,
            "{ctx}: `{service}` ended {n} times but started {begun}"
        );
    }
    assert_no_start_during_backoff(&events, &ctx);

    eprintln!(
        "{ctx}: {} events, {} starts, shutdown in {took:?}",
        events.len(),
        starts.values().sum::<u64>()
    );

    // No task left behind.
    for _ in 0..100 {
        if metrics.num_alive_tasks() <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        metrics.num_alive_tasks() <= baseline,
        "{ctx}: {} tasks alive after shutdown, {baseline} before",
        metrics.num_alive_tasks()
    );
}

fn count_by_service(events: &[Event], filter: impl Fn(&EventKind) -> bool) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for event in events {
        if !filter(&event.kind) {
            continue;
        }
        let service = match &event.kind {
            EventKind::Started { service, .. }
            | EventKind::Terminated { service, .. }
            | EventKind::Panicked { service, .. } => service.to_string(),
            _ => continue,
        };
        // A successor added (under its predecessor's name) before the predecessor has left
        // gets a suffix (`leaf1#2`); the ledger counts by the service's own name.
        let service = match service.split_once('#') {
            Some((base, _)) => base.to_owned(),
            None => service,
        };
        *counts.entry(service).or_default() += 1;
    }
    counts
}

/// While a supervisor backs off, none of its children restarts (children added meanwhile,
/// which are not restarts, may start). A supervisor started again by its parent begins
/// afresh, without a backoff.
fn assert_no_start_during_backoff(events: &[Event], ctx: &str) {
    let mut backing_off: HashMap<String, bool> = HashMap::new();
    for event in events {
        let sup = &*event.supervisor;
        if let EventKind::Started { service, .. } = &event.kind {
            backing_off.remove(&format!("{sup}/{service}"));
        }
        match &event.kind {
            EventKind::BackoffStarted { .. } => {
                backing_off.insert(sup.to_owned(), true);
            }
            EventKind::BackoffEnded => {
                backing_off.insert(sup.to_owned(), false);
            }
            EventKind::Started { service, restarts } if *restarts > 0 => {
                assert!(
                    !backing_off.get(sup).copied().unwrap_or(false),
                    "{ctx}: `{sup}/{service}` restarted during its supervisor's backoff"
                );
            }
            _ => {}
        }
    }
}

fn assert_enough(recorder: &EventRecorder, ctx: &str) {
    let events = recorder.events().len();
    assert!(events >= 1_000, "{ctx}: only {events} events");
}

#[tokio::test(start_paused = true)]
async fn flat_trees_of_every_strategy_keep_their_promises() {
    for seed in seeds() {
        for strategy in [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
        ] {
            for escalate in [false, true] {
                let (ledger, recorder) = (Arc::new(Ledger::default()), EventRecorder::new());
                let shape = flat(seed, &ledger, &recorder, strategy, escalate);
                torture(
                    seed,
                    shape,
                    ledger.clone(),
                    recorder.clone(),
                    Duration::from_secs(240),
                )
                .await;
                assert_enough(&recorder, &format!("flat {strategy:?}, seed {seed}"));
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn deep_trees_keep_their_promises() {
    for seed in seeds() {
        let (ledger, recorder) = (Arc::new(Ledger::default()), EventRecorder::new());
        let shape = deep(seed, &ledger, &recorder);
        torture(seed, shape, ledger, recorder, Duration::from_secs(300)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn wide_trees_keep_their_promises_and_see_every_fault() {
    for seed in seeds() {
        let (ledger, recorder) = (Arc::new(Ledger::default()), EventRecorder::new());
        let shape = wide(seed, &ledger, &recorder);
        torture(
            seed,
            shape,
            ledger.clone(),
            recorder.clone(),
            Duration::from_secs(120),
        )
        .await;
        assert_enough(&recorder, &format!("wide, seed {seed}"));
        let faults = ledger.faults.lock().unwrap();
        for fault in FAULTS {
            if *fault == Fault::TerminateTree {
                continue; // only the deep shape's innermost leaf may end its tree
            }
            assert!(
                faults.contains_key(fault),
                "seed {seed}: {fault:?} never happened"
            );
        }
        assert!(ledger.siblings.load(Ordering::Relaxed) > 0);
    }
}

/// A hook that calls its own supervisor's handle (synchronously, on the supervisor's task)
/// neither deadlocks nor loses the child it adds.
#[tokio::test(start_paused = true)]
async fn hook_adds_through_its_own_supervisors_handle() {
    let slot: Arc<Mutex<Option<SupervisorHandle>>> = Arc::default();
    let hook_slot = slot.clone();
    let added = Arc::new(AtomicU64::new(0));
    let counter = added.clone();
    let sup = Supervisor::builder("app")
        .intensity(1000, Duration::from_secs(1))
        .event_hook(move |event: &Event| {
            if let EventKind::Terminated { service, .. } = &event.kind
                && &**service == "flaky"
                && let Some(handle) = hook_slot.lock().unwrap().as_ref()
                && handle
                    .add_with(
                        suture::service_fn("added", |ctx: Context| async move {
                            ctx.cancelled().await;
                            Ok(())
                        }),
                        ChildSpec::new().restart(Restart::Temporary),
                    )
                    .is_ok()
            {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(sup.handle());
    let flaky = suture::testing::Scripted::new(
        "flaky",
        [suture::testing::Step::FailAfter(Duration::from_millis(10))],
    );
    let probe = flaky.probe();
    sup.add(flaky).unwrap();
    let handle = sup.handle();
    let tree = suture::testing::Running::start(sup).await;
    probe.wait_for_starts(20).await;
    let children = handle.children().await.unwrap();
    // Siblings sharing a name are told apart by a suffix: `added`, `added#2`, ...
    let hook_added = children
        .iter()
        .filter(|c| c.name.split('#').next() == Some("added"))
        .count() as u64;
    assert_eq!(hook_added, added.load(Ordering::SeqCst));
    assert!(hook_added >= 19);
    tree.shutdown().await.unwrap();
    *slot.lock().unwrap() = None;
}

/// A service spinning without awaiting cannot be aborted until it yields: on a multi-thread
/// runtime the supervisor stays responsive, gives up after the abort grace, reports it, and
/// the task finishes once the spin ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_loop_ignoring_cancellation_is_reported_then_finishes() {
    let (spinning, spun) = tokio::sync::oneshot::channel::<()>();
    let spinning = Mutex::new(Some(spinning));
    let sup = Supervisor::builder("app").build().unwrap();
    sup.add_with(
        suture::service_fn("spinner", move |ctx: Context| {
            let signal = spinning.lock().unwrap().take();
            async move {
                ctx.cancelled().await;
                if let Some(signal) = signal {
                    let _ = signal.send(());
                }
                // Spin for a bounded real time without awaiting: cancellation cannot land.
                let until = std::time::Instant::now() + std::time::Duration::from_millis(400);
                while std::time::Instant::now() < until {
                    std::hint::spin_loop();
                }
                Ok(())
            }
        }),
        ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_millis(20))),
    )
    .unwrap();
    let handle = sup.handle();
    let stop = CancellationToken::new();
    let task = sup.serve_background(Context::new(stop.clone())).await;
    tokio::task::yield_now().await;
    stop.cancel();
    spun.await.unwrap();
    task.await.unwrap().unwrap();
    let unstopped = handle.unstopped_services();
    assert_eq!(unstopped.len(), 1, "{unstopped:?}");
    assert_eq!(unstopped[0].path, "app/spinner");
}
