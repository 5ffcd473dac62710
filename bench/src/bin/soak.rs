//! A bounded soak: a tree of misbehaving services on real time and real threads.
//!
//! `cargo run --release -p suture-bench --bin soak -- --seconds 30 [--seed N]`
//!
//! Services pick, from a seeded generator, one fault per incarnation: return an error,
//! return Ok, panic (string or non-string payload), hang past their budget ignoring
//! cancellation, block the thread briefly, return `DoNotRestart` (and panic when dropped),
//! panic in `serve` before its future is first polled, or add and remove a sibling through
//! the handle. The first child of each group is ready-gated and asks its own supervisor for
//! its children before it says it is ready. One subtree restarts as a group with a budget so
//! short that its nested supervisor is aborted in the middle of stopping. Every strategy
//! runs, in backoff and escalate mode. At the
//! end the tree is shut down and these invariants are checked; any broken one exits 1:
//! - shutdown finishes within the sum of the budgets it was given;
//! - every incarnation that started has ended (nothing left running, nothing leaked);
//! - no service is reported unstopped (none blocks longer than the abort grace);
//! - a child asking its own supervisor during start-up is always answered (within 1 s);
//! - the runtime's alive tasks return to the baseline;
//! - resident memory at the end is within 1.5x of memory at a quarter of the run (flat).
#![allow(clippy::print_stdout)] // a command-line tool reporting its results

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use suture::{
    ChildSpec, Context, Event, EventKind, OnExceeded, Restart, Service, ServiceError,
    ServiceResult, Shutdown, ShutdownOrder, Strategy, Supervisor, SupervisorHandle,
};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Counters {
    starts: AtomicU64,
    ends: AtomicU64,
    events: AtomicU64,
    restarts: AtomicU64,
    panics: AtomicU64,
    backoffs: AtomicU64,
    stop_timeouts: AtomicU64,
    escalations: AtomicU64,
    dynamic_adds: AtomicU64,
    drop_panics: AtomicU64,
    early_panics: AtomicU64,
    handle_stalls: AtomicU64,
}

/// Counts an incarnation's end however it ends (returned, panicked, aborted).
struct EndGuard(Arc<Counters>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.ends.fetch_add(1, Ordering::Relaxed);
    }
}

struct Chaos {
    rng: fastrand::Rng,
    counters: Arc<Counters>,
    parent: Option<SupervisorHandle>,
    /// Ready-gated: asks its supervisor for its children before calling `ctx.ready()`.
    gated: bool,
    /// Panics when dropped (set as it leaves for good).
    bomb: bool,
}

impl Chaos {
    fn new(seed: u64, counters: &Arc<Counters>, parent: Option<SupervisorHandle>) -> Self {
        Chaos {
            rng: fastrand::Rng::with_seed(seed),
            counters: counters.clone(),
            parent,
            gated: false,
            bomb: false,
        }
    }
}

impl Drop for Chaos {
    fn drop(&mut self) {
        if self.bomb {
            panic!("chaos: panic in drop");
        }
    }
}

impl Service for Chaos {
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send {
        if self.rng.u32(0..100) < 2 {
            self.counters.early_panics.fetch_add(1, Ordering::Relaxed);
            panic!("chaos: panic before the first poll");
        }
        self.run(ctx)
    }
}

impl Chaos {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        self.counters.starts.fetch_add(1, Ordering::Relaxed);
        let _end = EndGuard(self.counters.clone());
        if self.gated {
            if let Some(parent) = &self.parent
                && tokio::time::timeout(Duration::from_secs(1), parent.children())
                    .await
                    .is_err()
            {
                self.counters.handle_stalls.fetch_add(1, Ordering::Relaxed);
            }
            ctx.ready();
        }
        let run_for = Duration::from_micros(self.rng.u64(100..5_000));
        tokio::select! {
            _ = ctx.cancelled() => return Ok(()),
            _ = tokio::time::sleep(run_for) => {}
        }
        match self.rng.u32(0..100) {
            0..30 => Err(ServiceError::msg("chaos: error")),
            30..45 => Ok(()),
            45..55 => panic!("chaos: panic"),
            55..58 => std::panic::panic_any(42_u32),
            58..61 => {
                // Hang, ignoring cancellation while awaiting: past the budget if a stop comes
                // meanwhile. Bounded, so that the tree keeps churning for the whole soak.
                let hang = Duration::from_millis(self.rng.u64(20..200));
                tokio::time::sleep(hang).await;
                Err(ServiceError::msg("chaos: hung, then failed"))
            }
            61..66 => {
                std::thread::sleep(Duration::from_micros(200));
                Err(ServiceError::msg("chaos: blocked, then failed"))
            }
            66..68 => {
                // Leave for good, handing the slot to a fresh service so the population lasts.
                if let Some(parent) = &self.parent {
                    let successor =
                        Chaos::new(self.rng.u64(..), &self.counters, Some(parent.clone()));
                    match parent.add(successor) {
                        Ok(_) => {
                            self.counters.dynamic_adds.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => eprintln!("soak: successor not added: {e}"),
                    }
                }
                // Its supervisor forgets it: it panics as it is dropped, half the time.
                self.bomb = self.rng.bool();
                Err(ServiceError::do_not_restart())
            }
            68..75 => {
                if let Some(parent) = &self.parent {
                    let sibling = Chaos::new(self.rng.u64(..), &self.counters, None);
                    let spec = ChildSpec::new().restart(Restart::Temporary);
                    if let Ok(token) = parent.add_with(sibling, spec) {
                        self.counters.dynamic_adds.fetch_add(1, Ordering::Relaxed);
                        let _ = parent.remove(token).await;
                    }
                    ctx.cancelled().await;
                }
                // A temporary sibling (no parent) ends, so that one whose removal missed (its
                // supervisor was between two runs) does not stay for good.
                Ok(())
            }
            _ => {
                // Run a while longer, then return normally (a permanent child restarts).
                let more = Duration::from_millis(self.rng.u64(1..20));
                tokio::select! {
                    _ = ctx.cancelled() => {}
                    _ = tokio::time::sleep(more) => {}
                }
                Ok(())
            }
        }
    }
}

/// How many services the tree holds (running or not), supervisors included.
async fn population(handle: &SupervisorHandle) -> usize {
    let mut count = 0;
    if let Ok(tree) = handle.tree().await {
        tree.walk(&mut |_| count += 1);
    }
    count
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn hook(counters: Arc<Counters>) -> impl Fn(&Event) + Send + Sync + 'static {
    move |event: &Event| {
        counters.events.fetch_add(1, Ordering::Relaxed);
        let c = &counters;
        match &event.kind {
            EventKind::Started { restarts, .. } if *restarts > 0 => {
                c.restarts.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::Panicked { .. } => {
                c.panics.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::BackoffStarted { .. } => {
                c.backoffs.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::StopTimeout { .. } => {
                c.stop_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::Escalated { .. } => {
                c.escalations.fetch_add(1, Ordering::Relaxed);
            }
            EventKind::DropPanicked { .. } => {
                c.drop_panics.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

const BUDGET: Duration = Duration::from_millis(20);

/// The root and its per-strategy groups, each with `width` chaotic children (the first
/// ready-gated), and one subtree whose group restarts abort a nested supervisor mid-stop.
/// Returns the root and how many supervisors are below it.
fn build(
    seed: u64,
    counters: &Arc<Counters>,
    width: usize,
) -> Result<(Supervisor, u32), Box<dyn std::error::Error>> {
    let root = Supervisor::builder("soak")
        .intensity(1_000_000, Duration::from_secs(1))
        .shutdown(BUDGET)
        .event_hook(hook(counters.clone()))
        .build()?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut groups = 0;
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        for on_exceeded in [OnExceeded::Backoff, OnExceeded::Escalate] {
            for order in [ShutdownOrder::Reverse, ShutdownOrder::Concurrent] {
                let mut builder =
                    Supervisor::builder(format!("{strategy:?}-{on_exceeded:?}-{order:?}"))
                        .strategy(strategy)
                        .on_exceeded(on_exceeded)
                        .intensity(20, Duration::from_millis(200))
                        .shutdown(BUDGET)
                        .shutdown_order(order);
                if on_exceeded == OnExceeded::Backoff {
                    builder = builder.backoff(Duration::from_millis(50)).jitter(0.5);
                }
                let group = builder.build()?;
                for i in 0..width {
                    let mut chaos = Chaos::new(rng.u64(..), counters, Some(group.handle()));
                    if i == 0 {
                        chaos.gated = true;
                        let gate = ChildSpec::new().ready_within(Duration::from_millis(100));
                        group.add_with(chaos, gate)?;
                    } else {
                        group.add(chaos)?;
                    }
                }
                root.add_with(group, ChildSpec::new().shutdown(Shutdown::Infinity))?;
                groups += 1;
            }
        }
    }
    // `aborter` restarts `nested` with its chaotic sibling; `nested` gets 5 ms to stop
    // children that each have 20 ms (and hang past it): it is aborted mid-stop, and must
    // come back whole.
    let aborter = Supervisor::builder("aborter")
        .strategy(Strategy::OneForAll)
        .intensity(1_000_000, Duration::from_secs(1))
        .shutdown(BUDGET)
        .build()?;
    let nested = Supervisor::builder("nested")
        .intensity(1_000_000, Duration::from_secs(1))
        .shutdown(BUDGET)
        .build()?;
    for _ in 0..width {
        nested.add(Chaos::new(rng.u64(..), counters, None))?;
    }
    let short = ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_millis(5)));
    aborter.add_with(nested, short)?;
    aborter.add(Chaos::new(rng.u64(..), counters, None))?;
    root.add_with(aborter, ChildSpec::new().shutdown(Shutdown::Infinity))?;
    Ok((root, groups + 2))
}

fn main() -> ExitCode {
    let mut seconds = 30u64;
    let mut seed = 0x5eed_u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => seconds = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: soak [--seconds N] [--seed N]");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soak: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(soak(seconds, seed))
}

async fn soak(seconds: u64, seed: u64) -> ExitCode {
    println!("soak: {seconds} s, seed {seed}, 2 worker threads");
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline_tasks = metrics.num_alive_tasks();
    let counters = Arc::new(Counters::default());
    const WIDTH: u32 = 8;
    let (root, groups) = match build(seed, &counters, WIDTH as usize) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("soak: cannot build the tree: {error}");
            return ExitCode::FAILURE;
        }
    };
    let handle = root.handle();
    let stop = CancellationToken::new();
    let running = root.serve_background(Context::new(stop.clone())).await;

    let total = Duration::from_secs(seconds);
    tokio::time::sleep(total / 4).await;
    let rss_quarter = vm_rss_kib();
    let population_quarter = population(&handle).await;
    let mut rss_peak = rss_quarter;
    let started = Instant::now();
    while started.elapsed() < total - total / 4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss_peak = rss_peak.max(vm_rss_kib());
    }
    let population_end = population(&handle).await;

    // Each group stops its children one by one in the worst case: budget + abort grace each.
    let children_bound = (BUDGET + Duration::from_millis(100)) * (groups * 16);
    let shutdown_started = Instant::now();
    stop.cancel();
    let mut broken = Vec::new();
    match tokio::time::timeout(children_bound, running).await {
        Ok(Ok(Ok(()))) => {}
        Ok(other) => broken.push(format!("root ended with {other:?}")),
        Err(_) => broken.push(format!("shutdown took longer than {children_bound:?}")),
    }
    let shutdown = shutdown_started.elapsed();
    let unstopped = handle.unstopped_services();
    if !unstopped.is_empty() {
        broken.push(format!("unstopped services: {unstopped:?}"));
    }
    // Aborted tasks finish being dropped on the runtime's threads: let them.
    for _ in 0..100 {
        if metrics.num_alive_tasks() <= baseline_tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let alive = metrics.num_alive_tasks();
    if alive > baseline_tasks {
        broken.push(format!(
            "{alive} tasks alive after shutdown, baseline {baseline_tasks}"
        ));
    }
    let (starts, ends) = (
        counters.starts.load(Ordering::Relaxed),
        counters.ends.load(Ordering::Relaxed),
    );
    let stalls = counters.handle_stalls.load(Ordering::Relaxed);
    if stalls > 0 {
        broken.push(format!(
            "{stalls} handle calls from a starting child waited more than 1 s"
        ));
    }
    if starts != ends {
        broken.push(format!("{starts} incarnations started but {ends} ended"));
    }
    let rss_end = vm_rss_kib();
    if rss_end as f64 > rss_quarter as f64 * 1.5 {
        broken.push(format!(
            "memory grew: {rss_quarter} KiB at 1/4, {rss_end} KiB at the end"
        ));
    }
    // Every service that leaves hands its slot to one successor, so the tree keeps its size:
    // the root, its groups and their children, plus at most one short-lived temporary
    // sibling per group. (A snapshot can miss a group caught between two runs, never add one.)
    // `groups` counts `aborter` and `nested` too, which hold `WIDTH + 1` between them.
    let full_size = (1 + groups + (groups - 2) * WIDTH + WIDTH + 1) as usize;
    if population_end > full_size + groups as usize {
        broken.push(format!(
            "the tree grew: {population_end} services at the end, {full_size} at the start"
        ));
    }
    let c = &counters;
    println!(
        "events={} starts={starts} restarts={} panics={} early_panics={} drop_panics={} backoffs={} escalations={} stop_timeouts={} dynamic_adds={}",
        c.events.load(Ordering::Relaxed),
        c.restarts.load(Ordering::Relaxed),
        c.panics.load(Ordering::Relaxed),
        c.early_panics.load(Ordering::Relaxed),
        c.drop_panics.load(Ordering::Relaxed),
        c.backoffs.load(Ordering::Relaxed),
        c.escalations.load(Ordering::Relaxed),
        c.stop_timeouts.load(Ordering::Relaxed),
        c.dynamic_adds.load(Ordering::Relaxed),
    );
    println!(
        "rss_quarter_kib={rss_quarter} rss_peak_kib={rss_peak} rss_end_kib={rss_end} shutdown={shutdown:?} children_quarter={population_quarter} children_end={population_end}"
    );
    if broken.is_empty() {
        println!("soak: all invariants held");
        ExitCode::SUCCESS
    } else {
        for b in &broken {
            println!("soak: BROKEN: {b}");
        }
        ExitCode::FAILURE
    }
}
