//! The suture benchmarks, each beside the bare-tokio floor measured in the same run.
//!
//! ```text
//! cargo run --release -p suture-bench                     # every workload
//! cargo run --release -p suture-bench -- --quick          # W1a, W1b (both ways), W2 100k, W3
//! cargo run --release -p suture-bench -- --workload W1a   # one (or a comma list)
//! ```
//!
//! One line per figure: `system=suture workload=W1a metric=restart_cycle value=812 unit=ns
//! floor=318 ratio=2.55`, and `system=tokio-floor ...` for the floors. Each figure is the
//! median of several repetitions (printed in the header), suture's and the floor's
//! interleaved so that drift on a shared machine hits both alike. Workloads that measure
//! memory or start-up of many tasks run in a fresh process per repetition, so that one
//! measurement's freed memory does not flatter the next.
//!
//! W1b runs twice, each repetition in a fresh process with `RUST_BACKTRACE` set for it (std
//! reads it once per process): `W1b` without backtraces (`RUST_BACKTRACE=0`), `W1b-backtrace`
//! with them (`RUST_BACKTRACE=1`), where both the supervisor and the floor's panic hook
//! capture one, unresolved. A `system=env` line says what the bench itself was started with.
#![allow(clippy::print_stdout)] // the bench's output is its product

use std::backtrace::{Backtrace, BacktraceStatus};
use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use suture::{Context, Service, ServiceError, ServiceResult, ShutdownOrder, Supervisor};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Restart cycles per W1 repetition.
const CYCLES: u64 = 100_000;

struct Options {
    quick: bool,
    workloads: Option<Vec<String>>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, spec] = args.as_slice()
        && flag == "--child"
    {
        return child(spec);
    }
    let mut options = Options {
        quick: false,
        workloads: None,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--workload" => match iter.next() {
                Some(list) => options
                    .workloads
                    .get_or_insert_with(Vec::new)
                    .extend(list.split(',').map(str::to_owned)),
                None => return usage("--workload needs a name, e.g. W1a"),
            },
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    run_all(&options)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("suture-bench: {problem}");
    eprintln!(
        "usage: suture-bench [--quick] [--workload W1a,W1b,W1b-backtrace,W1a-log,W2-100k,W2-1M,W3,idle,flat]"
    );
    ExitCode::from(2)
}

fn run_all(options: &Options) -> ExitCode {
    let quick = options.quick;
    let wanted = |name: &str, in_quick: bool| match &options.workloads {
        Some(list) => list.iter().any(|w| w.eq_ignore_ascii_case(name)),
        None => !quick || in_quick,
    };
    let w1_reps = if quick { 3 } else { 5 };
    // A start-up's figure on a shared machine swings by a third from run to run: more
    // repetitions where they are cheap. A million children take seconds each.
    let w2_reps = if quick { 3 } else { 5 };
    let million_reps = 3;
    println!(
        "# suture-bench: {} cores, {}; medians of {w1_reps} (W1), {w2_reps} (W2 100k, W3) and {million_reps} (W2 1M) repetitions; {CYCLES} cycles per W1 repetition",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "quick" } else { "full" }
    );
    // W1b sets it for itself; for the other workloads, say what they ran with.
    println!(
        "system=env rust_backtrace={}",
        std::env::var("RUST_BACKTRACE").unwrap_or_else(|_| "unset".to_owned())
    );
    let mut ok = true;
    if wanted("W1a", true) {
        ok &= restart_workload("W1a", w1_reps, Fault::Error, false);
    }
    if wanted("W1b", true) {
        ok &= panic_workload("W1b", w1_reps, false);
    }
    if wanted("W1b-backtrace", true) {
        ok &= panic_workload("W1b-backtrace", w1_reps, true);
    }
    if wanted("W1a-log", false) {
        ok &= restart_workload("W1a-log", w1_reps, Fault::Error, true);
    }
    if wanted("W2-100k", true) {
        ok &= scale_workload("W2-100k", 100_000, w2_reps);
    }
    if wanted("W2-1M", false) {
        ok &= scale_workload("W2-1M", 1_000_000, million_reps);
    }
    if wanted("W3", true) {
        ok &= tree_workload(w2_reps);
    }
    if wanted("idle", false) {
        ok &= idle_workload();
    }
    if wanted("flat", false) {
        ok &= flat_workload();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---- output ---------------------------------------------------------------------------

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn line(system: &str, workload: &str, metric: &str, value: f64, unit: &str, floor: Option<f64>) {
    let mut out = format!(
        "system={system} workload={workload} metric={metric} value={} unit={unit}",
        round(value)
    );
    if let Some(floor) = floor {
        out.push_str(&format!(
            " floor={} ratio={:.2}",
            round(floor),
            value / floor
        ));
    }
    println!("{out}");
    let _ = std::io::stdout().flush();
}

fn round(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    if std::env::var_os("BENCH_CURRENT_THREAD").is_some() {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

// ---- W1: restart latency -----------------------------------------------------------------

#[derive(Clone, Copy)]
enum Fault {
    Error,
    Panic,
}

/// Fails on every start until it has started `cycles` times, then signals and waits.
struct Crasher {
    starts: u64,
    cycles: u64,
    fault: Fault,
    done: Arc<Notify>,
}

impl Service for Crasher {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        self.starts += 1;
        if self.starts > self.cycles {
            self.done.notify_one();
            ctx.cancelled().await;
            return Ok(());
        }
        match self.fault {
            Fault::Error => Err(ServiceError::msg("crash")),
            Fault::Panic => panic!("crash"),
        }
    }
}

/// Mean nanoseconds per crash-restart cycle under a supervisor that never backs off.
async fn suture_restart_cycle(fault: Fault, cycles: u64) -> f64 {
    let sup = Supervisor::builder("w1")
        .intensity(1e15, Duration::from_secs(1))
        .build()
        .expect("valid settings");
    let done = Arc::new(Notify::new());
    sup.add(Crasher {
        starts: 0,
        cycles,
        fault,
        done: done.clone(),
    })
    .expect("not stopped");
    let stop = CancellationToken::new();
    let began = Instant::now();
    let task = sup.serve_background(Context::new(stop.clone())).await;
    done.notified().await;
    let elapsed = began.elapsed();
    stop.cancel();
    let _ = task.await;
    elapsed.as_nanos() as f64 / cycles as f64
}

/// The floor: spawn and await a trivial task (or one panicking inside `catch_unwind`).
async fn floor_restart_cycle(fault: Fault, cycles: u64) -> f64 {
    let began = Instant::now();
    for _ in 0..cycles {
        let task = match fault {
            Fault::Error => tokio::spawn(async { Err::<(), _>(std::fmt::Error) }),
            Fault::Panic => tokio::spawn(async {
                std::panic::catch_unwind(|| panic!("crash")).map_err(|_| std::fmt::Error)
            }),
        };
        let _ = std::hint::black_box(task.await);
    }
    began.elapsed().as_nanos() as f64 / cycles as f64
}

/// What the floor's panic hook keeps: message, location, backtrace.
type FloorPanic = (String, String, Option<Arc<Backtrace>>);

thread_local! {
    static FLOOR_PANIC: std::cell::RefCell<Option<FloorPanic>> =
        const { std::cell::RefCell::new(None) };
}

/// The floor's panic hook does what a supervisor needs at least: keep the message and the
/// location, silently, and the backtrace (unresolved) when `RUST_BACKTRACE` asks for one.
fn install_floor_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .unwrap_or_default();
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let backtrace = Backtrace::capture();
        let backtrace =
            (backtrace.status() == BacktraceStatus::Captured).then(|| Arc::new(backtrace));
        FLOOR_PANIC.with_borrow_mut(|slot| *slot = Some((message, location, backtrace)));
    }));
}

/// W1b, each repetition in a fresh process with `RUST_BACKTRACE` set to ask for backtraces
/// or not: std reads it once per process.
fn panic_workload(workload: &str, reps: usize, backtraces: bool) -> bool {
    let (mut ours, mut floors) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let Some(figures) = in_child_with("w1b", |command| {
            command
                .env("RUST_BACKTRACE", if backtraces { "1" } else { "0" })
                .env_remove("RUST_LIB_BACKTRACE");
        }) else {
            return false;
        };
        floors.push(figures[0]);
        ours.push(figures[1]);
    }
    let (ours, floor) = (median(ours), median(floors));
    line("tokio-floor", workload, "restart_cycle", floor, "ns", None);
    line("suture", workload, "restart_cycle", ours, "ns", Some(floor));
    true
}

/// One W1b repetition, in this (fresh) process: `floor_ns suture_ns`.
fn w1b_child() -> (f64, f64) {
    let rt = runtime();
    install_floor_hook();
    let floor = on_worker(&rt, floor_restart_cycle(Fault::Panic, CYCLES));
    let ours = on_worker(&rt, suture_restart_cycle(Fault::Panic, CYCLES));
    (floor, ours)
}

/// W1a (W1a-log with `logging`), its repetitions in this process; W1b has its own
/// processes ([`panic_workload`]).
fn restart_workload(workload: &str, reps: usize, fault: Fault, logging: bool) -> bool {
    let rt = runtime();
    let (mut ours, mut floors) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        floors.push(on_worker(&rt, floor_restart_cycle(fault, CYCLES)));
        if logging {
            // A subscriber is global to a process: the logged runs get their own.
            let Some(logged) = in_child("w1log") else {
                return false;
            };
            ours.push(logged[0]);
        } else {
            ours.push(on_worker(&rt, suture_restart_cycle(fault, CYCLES)));
        }
    }
    let (ours, floor) = (median(ours), median(floors));
    line("tokio-floor", workload, "restart_cycle", floor, "ns", None);
    line("suture", workload, "restart_cycle", ours, "ns", Some(floor));
    if logging {
        // Against W1a without logging, measured now, in this process.
        let plain: Vec<f64> = (0..reps)
            .map(|_| on_worker(&rt, suture_restart_cycle(fault, CYCLES)))
            .collect();
        line(
            "suture",
            workload,
            "logging_overhead",
            ours,
            "ns",
            Some(median(plain)),
        );
    }
    true
}

/// W1a with every event formatted by the fmt subscriber and written to a sink (DESIGN's
/// setting: it measures what our events cost to build and format, not the disk).
fn w1_logged_child() -> f64 {
    tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let rt = runtime();
    on_worker(&rt, suture_restart_cycle(Fault::Error, CYCLES))
}

/// Runs `fut` on a worker thread, as a supervisor's loop runs: awaiting tasks from the thread
/// that called `block_on` would add a cross-thread wake-up to every cycle of the floor.
fn on_worker<F>(rt: &tokio::runtime::Runtime, fut: F) -> f64
where
    F: std::future::Future<Output = f64> + Send + 'static,
{
    rt.block_on(async {
        tokio::spawn(fut)
            .await
            .expect("the workload does not panic")
    })
}

// ---- W2: many idle children ---------------------------------------------------------------

/// Idle until cancelled; counts itself as running first.
struct Idle {
    running: Arc<Counter>,
}

/// Counts up to a target, then wakes whoever waits.
struct Counter {
    count: AtomicU64,
    target: u64,
    reached: Notify,
}

impl Counter {
    fn new(target: u64) -> Arc<Self> {
        Arc::new(Counter {
            count: AtomicU64::new(0),
            target,
            reached: Notify::new(),
        })
    }

    fn arrive(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.reached.notify_one();
        }
    }
}

impl Service for Idle {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        self.running.arrive();
        ctx.cancelled().await;
        Ok(())
    }
}

/// One repetition, in this (fresh) process: `start_ms rss_per_child_bytes shutdown_ms`.
fn w2_child(system: &str, n: u64) -> (f64, f64, f64) {
    let rt = runtime();
    let suture = system == "suture";
    // On a worker thread, where a supervisor's loop spawns its children.
    rt.block_on(async move { tokio::spawn(w2_run(suture, n)).await.expect("no panic") })
}

async fn w2_run(suture: bool, n: u64) -> (f64, f64, f64) {
    {
        let running = Counter::new(n);
        let before = vm_rss_bytes();
        let stop = CancellationToken::new();
        if suture {
            let sup = Supervisor::builder("w2")
                .shutdown_order(ShutdownOrder::Concurrent)
                .build()
                .expect("valid settings");
            for _ in 0..n {
                sup.add(Idle {
                    running: running.clone(),
                })
                .expect("not stopped");
            }
            let began = Instant::now();
            let task = sup.serve_background(Context::new(stop.clone())).await;
            running.reached.notified().await;
            let start = began.elapsed();
            let per_child = (vm_rss_bytes() - before) / n as f64;
            let began = Instant::now();
            stop.cancel();
            let _ = task.await;
            (ms(start), per_child, ms(began.elapsed()))
        } else {
            let began = Instant::now();
            let mut tasks = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let token = stop.child_token();
                let running = running.clone();
                tasks.push(tokio::spawn(async move {
                    running.arrive();
                    token.cancelled().await;
                }));
            }
            running.reached.notified().await;
            let start = began.elapsed();
            let per_child = (vm_rss_bytes() - before) / n as f64;
            let began = Instant::now();
            stop.cancel();
            for task in tasks {
                let _ = task.await;
            }
            (ms(start), per_child, ms(began.elapsed()))
        }
    }
}

fn scale_workload(workload: &str, n: u64, reps: usize) -> bool {
    let mut figures: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..reps {
        for (i, system) in ["tokio-floor", "suture"].iter().enumerate() {
            let Some(values) = in_child(&format!("w2:{system}:{n}")) else {
                return false;
            };
            for (k, v) in values.into_iter().enumerate().take(3) {
                figures[i][k].push(v);
            }
        }
    }
    let metrics = [
        ("start", "ms"),
        ("memory_per_child", "bytes"),
        ("shutdown", "ms"),
    ];
    for (k, (metric, unit)) in metrics.iter().enumerate() {
        let floor = median(figures[0][k].clone());
        let ours = median(figures[1][k].clone());
        line("tokio-floor", workload, metric, floor, unit, None);
        line("suture", workload, metric, ours, unit, Some(floor));
    }
    true
}

// ---- W3: a deep tree -------------------------------------------------------------------------

/// Depth 3, fan-out 100 x 100 x 10: `start_ms shutdown_ms`.
fn w3_child(system: &str) -> (f64, f64) {
    let rt = runtime();
    if system == "tokio-floor" {
        return rt.block_on(w3_floor());
    }
    rt.block_on(async {
        let leaves = Counter::new(100 * 100 * 10);
        let root = pool("root");
        for i in 0..100 {
            let middle = pool(&format!("m{i}"));
            for j in 0..100 {
                let group = pool(&format!("g{j}"));
                for _ in 0..10 {
                    group
                        .add(Idle {
                            running: leaves.clone(),
                        })
                        .expect("not stopped");
                }
                middle.add(group).expect("not stopped");
            }
            root.add(middle).expect("not stopped");
        }
        let stop = CancellationToken::new();
        let began = Instant::now();
        let task = root.serve_background(Context::new(stop.clone())).await;
        leaves.reached.notified().await;
        let start = began.elapsed();
        let began = Instant::now();
        stop.cancel();
        let _ = task.await;
        (ms(start), ms(began.elapsed()))
    })
}

/// The floor of W3: the same tree of bare tasks. Each inner task holds a child token of its
/// parent's, spawns its children, and on cancellation waits for them all to end.
async fn w3_floor() -> (f64, f64) {
    const FAN_OUT: [usize; 3] = [100, 100, 10];
    fn inner(
        level: usize,
        token: CancellationToken,
        leaves: Arc<Counter>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if level == FAN_OUT.len() {
                leaves.arrive();
                token.cancelled().await;
                return;
            }
            let children: Vec<_> = (0..FAN_OUT[level])
                .map(|_| inner(level + 1, token.child_token(), leaves.clone()))
                .collect();
            token.cancelled().await;
            for child in children {
                let _ = child.await;
            }
        })
    }
    let leaves = Counter::new(FAN_OUT.iter().product::<usize>() as u64);
    let stop = CancellationToken::new();
    let began = Instant::now();
    let root = inner(0, stop.clone(), leaves.clone());
    leaves.reached.notified().await;
    let start = began.elapsed();
    let began = Instant::now();
    stop.cancel();
    let _ = root.await;
    (ms(start), ms(began.elapsed()))
}

/// A supervisor of many similar children: they stop all at once.
fn pool(name: &str) -> Supervisor {
    Supervisor::builder(name.to_owned())
        .shutdown_order(ShutdownOrder::Concurrent)
        .build()
        .expect("valid settings")
}

fn tree_workload(reps: usize) -> bool {
    // [system][metric]: the floor, then suture, alternating in each repetition.
    let mut figures: [[Vec<f64>; 2]; 2] = Default::default();
    for _ in 0..reps {
        for (i, system) in ["tokio-floor", "suture"].iter().enumerate() {
            let Some(values) = in_child(&format!("w3:{system}")) else {
                return false;
            };
            figures[i][0].push(values[0]);
            figures[i][1].push(values[1]);
        }
    }
    for (k, metric) in ["start", "shutdown"].iter().enumerate() {
        let floor = median(figures[0][k].clone());
        line("tokio-floor", "W3", metric, floor, "ms", None);
        line(
            "suture",
            "W3",
            metric,
            median(figures[1][k].clone()),
            "ms",
            Some(floor),
        );
    }
    true
}

// ---- idle CPU and flat memory ------------------------------------------------------------------

fn idle_workload() -> bool {
    let Some(ours) = in_child("idle:suture") else {
        return false;
    };
    let Some(floor) = in_child("idle:tokio-floor") else {
        return false;
    };
    for (system, figures) in [("tokio-floor", &floor), ("suture", &ours)] {
        let metrics = [
            ("cpu_per_idle_second", "ms"),
            ("wakeups_per_idle_second", "unparks"),
        ];
        for ((metric, unit), value) in metrics.iter().zip(figures.iter()) {
            line(system, "idle-100k", metric, *value, unit, None);
        }
    }
    true
}

/// CPU time (ms) the process used during one idle second with 100k idle children, and how
/// many times the runtime's workers woke up meanwhile.
fn idle_child(system: &str) -> (f64, f64) {
    let rt = runtime();
    rt.block_on(async {
        let n = 100_000;
        let running = Counter::new(n);
        let stop = CancellationToken::new();
        let mut serving = None;
        let mut tasks = Vec::new();
        if system == "suture" {
            let sup = pool("idle");
            for _ in 0..n {
                sup.add(Idle {
                    running: running.clone(),
                })
                .expect("not stopped");
            }
            serving = Some(sup.serve_background(Context::new(stop.clone())).await);
        } else {
            for _ in 0..n {
                let token = stop.child_token();
                let running = running.clone();
                tasks.push(tokio::spawn(async move {
                    running.arrive();
                    token.cancelled().await;
                }));
            }
        }
        running.reached.notified().await;
        // Let start-up work drain before measuring.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let metrics = tokio::runtime::Handle::current().metrics();
        let unparks = || -> u64 {
            (0..metrics.num_workers())
                .map(|w| metrics.worker_park_unpark_count(w))
                .sum()
        };
        let (before, woken) = (cpu_ms(), unparks());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Counted are park and unpark transitions; the measuring task's own sleep makes a
        // few, in the floor too: compare the two.
        let used = (cpu_ms() - before, (unparks() - woken) as f64);
        stop.cancel();
        if let Some(task) = serving {
            let _ = task.await;
        }
        for task in tasks {
            let _ = task.await;
        }
        used
    })
}

fn flat_workload() -> bool {
    let Some(values) = in_child("flat") else {
        return false;
    };
    line(
        "suture",
        "flat-1M-restarts",
        "rss_before",
        values[0],
        "KiB",
        None,
    );
    line(
        "suture",
        "flat-1M-restarts",
        "rss_after",
        values[1],
        "KiB",
        None,
    );
    true
}

/// RSS (KiB) after a warm-up of 100k restarts, and after 1,000,000 more.
fn flat_child() -> (f64, f64) {
    let rt = runtime();
    rt.block_on(async {
        suture_restart_cycle(Fault::Error, 100_000).await;
        let before = vm_rss_bytes() / 1024.0;
        suture_restart_cycle(Fault::Error, 1_000_000).await;
        (before, vm_rss_bytes() / 1024.0)
    })
}

// ---- fresh processes ------------------------------------------------------------------------

/// Runs one repetition in a fresh copy of this program; its figures, space-separated.
fn in_child(spec: &str) -> Option<Vec<f64>> {
    in_child_with(spec, |_| {})
}

/// [`in_child`], with the child's command adjusted first (e.g. its environment).
fn in_child_with(spec: &str, configure: impl FnOnce(&mut Command)) -> Option<Vec<f64>> {
    let exe = std::env::current_exe().ok()?;
    let mut command = Command::new(exe);
    command.args(["--child", spec]);
    configure(&mut command);
    let output = command.output().ok()?;
    if !output.status.success() {
        eprintln!(
            "suture-bench: `{spec}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect()
}

fn child(spec: &str) -> ExitCode {
    let parts: Vec<&str> = spec.split(':').collect();
    let figures: Vec<f64> = match parts.as_slice() {
        ["w2", system, n] => match n.parse() {
            Ok(n) => {
                let (a, b, c) = w2_child(system, n);
                vec![a, b, c]
            }
            Err(_) => return usage("bad child spec"),
        },
        ["w1log"] => vec![w1_logged_child()],
        ["w1b"] => {
            let (floor, ours) = w1b_child();
            vec![floor, ours]
        }
        ["w3", system] => {
            let (a, b) = w3_child(system);
            vec![a, b]
        }
        ["idle", system] => {
            let (cpu, wakeups) = idle_child(system);
            vec![cpu, wakeups]
        }
        ["flat"] => {
            let (a, b) = flat_child();
            vec![a, b]
        }
        _ => return usage("bad child spec"),
    };
    let text: Vec<String> = figures.iter().map(f64::to_string).collect();
    println!("{}", text.join(" "));
    ExitCode::SUCCESS
}

// ---- measurements ---------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory, from `/proc/self/status` (0 where there is no procfs).
fn vm_rss_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib * 1024.0)
}

/// User plus system CPU time of this process, in ms, from `/proc/self/stat`.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let total = ticks(11) + ticks(12);
    let hz = 100.0; // USER_HZ on Linux
    total * 1000.0 / hz
}
