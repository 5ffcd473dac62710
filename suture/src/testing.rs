//! A deterministic test kit: scripted services, an event recorder, and helpers to run a tree
//! on tokio's paused clock.
//!
//! Enable it with the `testing` feature (usually in `[dev-dependencies]`). It turns on
//! tokio's `test-util`, so `#[tokio::test(start_paused = true)]` works: time only moves when
//! every task is idle, which makes "failed three times, backed off for 15 s, then resumed"
//! an exact assertion instead of a race.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use suture::Supervisor;
//! use suture::testing::{EventRecorder, Running, Scripted, Step};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let recorder = EventRecorder::new();
//! let sup = Supervisor::builder("app")
//!     .intensity(2, Duration::from_secs(30))
//!     .backoff(Duration::from_secs(15))
//!     .jitter(0.0)
//!     .event_hook(recorder.hook())
//!     .build()
//!     .unwrap();
//! // Fails on its first three starts, then runs until it is told to stop.
//! let db = Scripted::new("db", [Step::Fail, Step::Fail, Step::Fail, Step::Run]);
//! let probe = db.probe();
//! sup.add(db).unwrap();
//!
//! let started_at = tokio::time::Instant::now();
//! let tree = Running::start(sup).await;
//! probe.wait_for_starts(4).await;
//! assert_eq!(
//!     recorder.lines(),
//!     [
//!         "app: started db",
//!         "app: db failed, restarting now",
//!         "app: started db",
//!         "app: db failed, restarting now",
//!         "app: started db",
//!         // The third failure crosses the threshold of 2: its event follows the backoff's.
//!         "app: backoff 15s",
//!         "app: db failed, restarting after backoff",
//!         "app: backoff ended",
//!         "app: started db",
//!     ]
//! );
//! // On the paused clock the backoff took exactly its 15 s, and nothing else took time.
//! assert_eq!(started_at.elapsed(), Duration::from_secs(15));
//! tree.shutdown().await.unwrap();
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    Context, Event, EventKind, Restarting, Service, ServiceError, ServiceResult, Supervisor,
    SupervisorHandle,
};

/// What one incarnation of a [`Scripted`] service does.
///
/// # Examples
///
/// ```
/// use suture::testing::{Scripted, Step};
///
/// // Fails twice, panics once, then runs until told to stop.
/// let svc = Scripted::new("db", [Step::Fail, Step::Fail, Step::Panic, Step::Run]);
/// assert_eq!(svc.probe().starts(), 0);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Step {
    /// Calls `ctx.ready()`, then runs until cancelled and returns `Ok(())`.
    Run,
    /// Returns `Ok(())` at once.
    Return,
    /// Returns an error at once (`"scripted failure"`).
    Fail,
    /// Panics at once with the message `"scripted panic"`.
    Panic,
    /// Panics at once with a non-string payload (an `i32`).
    PanicWithValue,
    /// Calls `ctx.ready()`, then returns an error after this long (unless cancelled first).
    FailAfter(Duration),
    /// Calls `ctx.ready()`, then returns `Ok(())` after this long (unless cancelled first).
    ReturnAfter(Duration),
    /// Calls `ctx.ready()` after this long, then runs until cancelled.
    ReadyAfter(Duration),
    /// Returns an error before calling `ctx.ready()`.
    FailBeforeReady,
    /// Runs until cancelled without ever calling `ctx.ready()`.
    NeverReady,
    /// Calls `ctx.ready()`, runs until cancelled, then takes this long to finish.
    StopSlowly(Duration),
    /// Calls `ctx.ready()` and awaits forever, ignoring cancellation (it is aborted after
    /// its shutdown budget).
    IgnoreCancel,
    /// Returns [`ServiceError::do_not_restart`].
    DoNotRestart,
    /// Returns [`ServiceError::terminate_tree`].
    TerminateTree,
    /// Calls `ctx.ready()`, then fails when the trigger is pulled (or returns `Ok(())` if
    /// cancelled first).
    FailOn(Trigger),
    /// Calls `ctx.ready()`, then panics when the trigger is pulled (or returns `Ok(())` if
    /// cancelled first).
    PanicOn(Trigger),
    /// Calls `ctx.ready()`, then returns `Ok(())` when the trigger is pulled or it is cancelled.
    ReturnOn(Trigger),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Run => f.write_str("Run"),
            Step::Return => f.write_str("Return"),
            Step::Fail => f.write_str("Fail"),
            Step::Panic => f.write_str("Panic"),
            Step::PanicWithValue => f.write_str("PanicWithValue"),
            Step::FailAfter(d) => write!(f, "FailAfter({d:?})"),
            Step::ReturnAfter(d) => write!(f, "ReturnAfter({d:?})"),
            Step::ReadyAfter(d) => write!(f, "ReadyAfter({d:?})"),
            Step::FailBeforeReady => f.write_str("FailBeforeReady"),
            Step::NeverReady => f.write_str("NeverReady"),
            Step::StopSlowly(d) => write!(f, "StopSlowly({d:?})"),
            Step::IgnoreCancel => f.write_str("IgnoreCancel"),
            Step::DoNotRestart => f.write_str("DoNotRestart"),
            Step::TerminateTree => f.write_str("TerminateTree"),
            Step::FailOn(_) => f.write_str("FailOn(..)"),
            Step::PanicOn(_) => f.write_str("PanicOn(..)"),
            Step::ReturnOn(_) => f.write_str("ReturnOn(..)"),
        }
    }
}

/// A switch a test pulls to make a [`Step::FailOn`], [`Step::PanicOn`] or [`Step::ReturnOn`]
/// incarnation end. Pulling it before the incarnation waits is remembered, once per pull.
///
/// # Examples
///
/// ```
/// use suture::testing::{Scripted, Step, Trigger};
///
/// let crash = Trigger::new();
/// let svc = Scripted::new("worker", [Step::FailOn(crash.clone()), Step::Run]);
/// // ... start it under a supervisor, then:
/// crash.pull();
/// # drop(svc);
/// ```
#[derive(Clone, Default)]
pub struct Trigger(Arc<Notify>);

impl Trigger {
    /// A trigger nobody has pulled.
    ///
    /// # Examples
    ///
    /// ```
    /// let crash = suture::testing::Trigger::new();
    /// crash.pull(); // remembered until an incarnation waits on it
    /// ```
    pub fn new() -> Self {
        Trigger::default()
    }

    /// Ends the incarnation waiting on it (or the next one to wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Running, Scripted, Step, Trigger};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let crash = Trigger::new();
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// let svc = Scripted::new("svc", [Step::FailOn(crash.clone()), Step::Run]);
    /// let probe = svc.probe();
    /// sup.add(svc).unwrap();
    /// let tree = Running::start(sup).await;
    /// crash.pull();
    /// probe.wait_for_starts(2).await; // restarted after the failure
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub fn pull(&self) {
        self.0.notify_one();
    }

    async fn pulled(&self) {
        self.0.notified().await;
    }
}

impl fmt::Debug for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trigger")
    }
}

/// A service that follows a script: the n-th start runs the n-th [`Step`], and the last step
/// repeats forever. Its [`Probe`] counts starts and ends.
///
/// # Examples
///
/// ```
/// use suture::testing::{Running, Scripted, Step};
/// use suture::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let svc = Scripted::new("cache", [Step::Panic, Step::Run]);
/// let probe = svc.probe();
/// let sup = Supervisor::builder("app").build().unwrap();
/// sup.add(svc).unwrap();
/// let tree = Running::start(sup).await;
/// probe.wait_for_starts(2).await; // panicked once, restarted
/// tree.shutdown().await.unwrap();
/// assert_eq!(probe.ends(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Scripted {
    name: Arc<str>,
    steps: Vec<Step>,
    probe: Probe,
    journal: Option<Journal>,
}

impl Scripted {
    /// A scripted service named `name`. An empty script means [`Step::Run`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Scripted, Step};
    /// // Panics once, then behaves.
    /// let svc = Scripted::new("cache", [Step::Panic, Step::Run]);
    /// assert_eq!(svc.probe().starts(), 0);
    /// ```
    pub fn new(name: &str, steps: impl IntoIterator<Item = Step>) -> Self {
        Scripted {
            name: Arc::from(name),
            steps: steps.into_iter().collect(),
            probe: Probe::default(),
            journal: None,
        }
    }

    /// Also writes `"NAME started"` and `"NAME ended"` to `journal` at each start and end, so
    /// that the order of starts and stops across services can be asserted.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Journal, Scripted};
    /// let journal = Journal::new();
    /// let a = Scripted::running("a").journal(&journal);
    /// let b = Scripted::running("b").journal(&journal);
    /// // ... run both under a supervisor and stop it, then:
    /// // assert_eq!(journal.entries(), ["a started", "b started", "b ended", "a ended"]);
    /// # drop((a, b));
    /// ```
    pub fn journal(mut self, journal: &Journal) -> Self {
        self.journal = Some(journal.clone());
        self
    }

    /// A service that runs until cancelled, every time.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::Scripted;
    ///
    /// let svc = Scripted::running("web");
    /// assert!(!svc.probe().is_running());
    /// ```
    pub fn running(name: &str) -> Self {
        Scripted::new(name, [Step::Run])
    }

    /// The probe observing this service (cloneable, usable after the service moved).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Running, Scripted};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let svc = Scripted::running("web");
    /// let probe = svc.probe();
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(svc).unwrap();
    /// let tree = Running::start(sup).await;
    /// probe.wait_for_starts(1).await;
    /// assert!(probe.is_running());
    /// tree.shutdown().await.unwrap();
    /// assert_eq!(probe.ends(), 1);
    /// # }
    /// ```
    pub fn probe(&self) -> Probe {
        self.probe.clone()
    }

    fn step(&self, start: u64) -> Step {
        let index = usize::try_from(start).unwrap_or(usize::MAX);
        self.steps
            .get(index)
            .or(self.steps.last())
            .cloned()
            .unwrap_or(Step::Run)
    }
}

impl Service for Scripted {
    fn serve(&mut self, ctx: Context) -> impl Future<Output = ServiceResult> + Send {
        let start = self.probe.0.starts.fetch_add(1, Ordering::SeqCst);
        self.probe.0.changed.notify_waiters();
        let step = self.step(start);
        if let Some(journal) = &self.journal {
            journal.write(format!("{} started", self.name));
        }
        let end = EndGuard {
            probe: self.probe.clone(),
            name: self.name.clone(),
            journal: self.journal.clone(),
        };
        async move {
            // Counts the end even when the incarnation panics or is aborted.
            let _end = end;
            run_step(step, &ctx).await
        }
    }

    fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(self.name.to_string())
    }
}

async fn run_step(step: Step, ctx: &Context) -> ServiceResult {
    let failure = || Err(ServiceError::msg("scripted failure"));
    match step {
        Step::Run => {
            ctx.ready();
            ctx.cancelled().await;
            Ok(())
        }
        Step::Return => Ok(()),
        Step::Fail | Step::FailBeforeReady => failure(),
        Step::Panic => panic!("scripted panic"),
        Step::PanicWithValue => std::panic::panic_any(7_i32),
        Step::FailAfter(after) => {
            ctx.ready();
            tokio::select! {
                _ = ctx.cancelled() => Ok(()),
                _ = tokio::time::sleep(after) => failure(),
            }
        }
        Step::ReturnAfter(after) => {
            ctx.ready();
            tokio::select! {
                _ = ctx.cancelled() => {}
                _ = tokio::time::sleep(after) => {}
            }
            Ok(())
        }
        Step::ReadyAfter(after) => {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                _ = tokio::time::sleep(after) => ctx.ready(),
            }
            ctx.cancelled().await;
            Ok(())
        }
        Step::NeverReady => {
            ctx.cancelled().await;
            Ok(())
        }
        Step::StopSlowly(linger) => {
            ctx.ready();
            ctx.cancelled().await;
            tokio::time::sleep(linger).await;
            Ok(())
        }
        Step::IgnoreCancel => {
            ctx.ready();
            std::future::pending::<ServiceResult>().await
        }
        Step::DoNotRestart => Err(ServiceError::do_not_restart()),
        Step::TerminateTree => Err(ServiceError::terminate_tree()),
        Step::FailOn(trigger) => {
            ctx.ready();
            tokio::select! {
                _ = ctx.cancelled() => Ok(()),
                _ = trigger.pulled() => failure(),
            }
        }
        Step::PanicOn(trigger) => {
            ctx.ready();
            tokio::select! {
                _ = ctx.cancelled() => Ok(()),
                _ = trigger.pulled() => panic!("scripted panic"),
            }
        }
        Step::ReturnOn(trigger) => {
            ctx.ready();
            tokio::select! {
                _ = ctx.cancelled() => {}
                _ = trigger.pulled() => {}
            }
            Ok(())
        }
    }
}

struct EndGuard {
    probe: Probe,
    name: Arc<str>,
    journal: Option<Journal>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if let Some(journal) = &self.journal {
            journal.write(format!("{} ended", self.name));
        }
        self.probe.0.ends.fetch_add(1, Ordering::SeqCst);
        self.probe.0.changed.notify_waiters();
    }
}

/// An ordered log shared by several [`Scripted`] services (see [`Scripted::journal`]).
///
/// # Examples
///
/// ```
/// use suture::testing::{Journal, Scripted};
///
/// let journal = Journal::new();
/// let first = Scripted::running("first").journal(&journal);
/// journal.write("first added");
/// assert_eq!(journal.entries(), ["first added"]);
/// # drop(first);
/// ```
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    /// An empty journal.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::Journal;
    ///
    /// let journal = Journal::new();
    /// journal.write("test began");
    /// assert_eq!(journal.entries(), ["test began"]);
    /// ```
    pub fn new() -> Self {
        Journal::default()
    }

    /// Everything written so far, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Journal, Running, Scripted};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let journal = Journal::new();
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(Scripted::running("a").journal(&journal)).unwrap();
    /// sup.add(Scripted::running("b").journal(&journal)).unwrap();
    /// let tree = Running::start(sup).await;
    /// suture::testing::settle().await;
    /// tree.shutdown().await.unwrap();
    /// assert_eq!(journal.entries(), ["a started", "b started", "b ended", "a ended"]);
    /// # }
    /// ```
    pub fn entries(&self) -> Vec<String> {
        lock(&self.0).clone()
    }

    /// Forgets what was written so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let journal = suture::testing::Journal::new();
    /// journal.write("setup");
    /// journal.clear();
    /// assert!(journal.entries().is_empty());
    /// ```
    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// Adds an entry (tests may write their own marks between the services' entries).
    ///
    /// # Examples
    ///
    /// ```
    /// let journal = suture::testing::Journal::new();
    /// journal.write("crash injected");
    /// assert_eq!(journal.entries().len(), 1);
    /// ```
    pub fn write(&self, entry: impl Into<String>) {
        lock(&self.0).push(entry.into());
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(lock(&self.0).iter()).finish()
    }
}

/// Counts the starts and ends of a [`Scripted`] service, and waits for them.
///
/// An *end* is any way an incarnation finishes: it returned, panicked, or was aborted.
///
/// # Examples
///
/// ```
/// use suture::testing::Scripted;
///
/// let svc = Scripted::running("web");
/// let probe = svc.probe(); // keep it: `svc` moves into a supervisor
/// assert_eq!((probe.starts(), probe.ends()), (0, 0));
/// ```
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeState>);

#[derive(Default)]
struct ProbeState {
    starts: AtomicU64,
    ends: AtomicU64,
    changed: Notify,
}

impl Probe {
    /// How many times the service was started.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(suture::testing::Scripted::running("x").probe().starts(), 0);
    /// ```
    pub fn starts(&self) -> u64 {
        self.0.starts.load(Ordering::SeqCst)
    }

    /// How many incarnations have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(suture::testing::Scripted::running("x").probe().ends(), 0);
    /// ```
    pub fn ends(&self) -> u64 {
        self.0.ends.load(Ordering::SeqCst)
    }

    /// Whether an incarnation is running now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!suture::testing::Scripted::running("x").probe().is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.starts() > self.ends()
    }

    /// Waits until the service has been started at least `n` times.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Running, Scripted, Step};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let svc = Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run]);
    /// let probe = svc.probe();
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(svc).unwrap();
    /// let tree = Running::start(sup).await;
    /// probe.wait_for_starts(3).await;
    /// assert_eq!(probe.ends(), 2);
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn wait_for_starts(&self, n: u64) {
        self.wait_until(|p| p.starts() >= n).await;
    }

    /// Waits until at least `n` incarnations have finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Running, Scripted, Step};
    /// use suture::{ChildSpec, Restart, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let job = Scripted::new("job", [Step::Return]);
    /// let probe = job.probe();
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add_with(job, ChildSpec::new().restart(Restart::Transient)).unwrap();
    /// let tree = Running::start(sup).await;
    /// probe.wait_for_ends(1).await;
    /// assert_eq!(probe.starts(), 1);
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn wait_for_ends(&self, n: u64) {
        self.wait_until(|p| p.ends() >= n).await;
    }

    async fn wait_until(&self, done: impl Fn(&Probe) -> bool) {
        loop {
            let changed = self.0.changed.notified();
            if done(self) {
                return;
            }
            changed.await;
        }
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("starts", &self.starts())
            .field("ends", &self.ends())
            .finish()
    }
}

/// Records every event of a tree, for exact assertions on what happened and in which order.
///
/// Install it with [`SupervisorBuilder::event_hook`](crate::SupervisorBuilder::event_hook)`(recorder.hook())`
/// on the root: a hook sees the events of its supervisor's whole subtree.
///
/// # Examples
///
/// ```
/// use suture::testing::{EventRecorder, Running, Scripted, Step};
/// use suture::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let recorder = EventRecorder::new();
/// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
/// sup.add(Scripted::new("svc", [Step::Fail, Step::Run])).unwrap();
/// let tree = Running::start(sup).await;
/// recorder.wait_for_line("app: svc failed, restarting now").await;
/// tree.shutdown().await.unwrap();
/// # }
/// ```
#[derive(Clone, Default)]
pub struct EventRecorder(Arc<RecorderState>);

#[derive(Default)]
struct RecorderState {
    events: Mutex<Vec<Event>>,
    changed: Notify,
}

impl EventRecorder {
    /// An empty recorder.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(suture::testing::EventRecorder::new().events().is_empty());
    /// ```
    pub fn new() -> Self {
        EventRecorder::default()
    }

    /// The hook to give to the supervisor builder.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::EventRecorder;
    ///
    /// let recorder = EventRecorder::new();
    /// let sup = suture::Supervisor::builder("app").event_hook(recorder.hook()).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn hook(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let state = self.0.clone();
        move |event: &Event| {
            lock(&state.events).push(event.clone());
            state.changed.notify_waiters();
        }
    }

    /// Every event recorded so far, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{EventRecorder, Running, Scripted};
    /// use suture::{EventKind, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = EventRecorder::new();
    /// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
    /// sup.add(Scripted::running("svc")).unwrap();
    /// let tree = Running::start(sup).await;
    /// suture::testing::settle().await;
    /// assert!(matches!(recorder.events()[0].kind, EventKind::Started { .. }));
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0.events).clone()
    }

    /// Every event recorded so far, each as one short line (see [`describe`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{EventRecorder, Running, Scripted, Step};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = EventRecorder::new();
    /// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
    /// sup.add(Scripted::new("svc", [Step::Panic, Step::Run])).unwrap();
    /// let tree = Running::start(sup).await;
    /// suture::testing::settle().await;
    /// assert_eq!(
    ///     recorder.lines(),
    ///     ["app: started svc", "app: svc panicked, restarting now", "app: started svc"]
    /// );
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub fn lines(&self) -> Vec<String> {
        lock(&self.0.events).iter().map(describe).collect()
    }

    /// How many recorded events match `filter`.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::EventKind;
    /// let recorder = suture::testing::EventRecorder::new();
    /// assert_eq!(recorder.count(|e| matches!(e.kind, EventKind::Started { .. })), 0);
    /// ```
    pub fn count(&self, filter: impl Fn(&Event) -> bool) -> usize {
        lock(&self.0.events).iter().filter(|e| filter(e)).count()
    }

    /// Forgets what was recorded so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let recorder = suture::testing::EventRecorder::new();
    /// recorder.clear(); // e.g. after start-up, to assert only on what follows
    /// assert!(recorder.lines().is_empty());
    /// ```
    pub fn clear(&self) {
        lock(&self.0.events).clear();
    }

    /// Waits until `n` recorded events (counting those already recorded) match `filter`, and
    /// returns the n-th.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes the record.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{describe, EventRecorder, Running, Scripted, Step};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = EventRecorder::new();
    /// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
    /// sup.add(Scripted::new("svc", [Step::Fail, Step::Fail, Step::Run])).unwrap();
    /// let tree = Running::start(sup).await;
    /// let third = recorder.wait_for_nth(3, |e| describe(e) == "app: started svc").await;
    /// assert_eq!(&*third.supervisor, "app");
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn wait_for_nth(&self, n: usize, filter: impl Fn(&Event) -> bool) -> Event {
        loop {
            let changed = self.0.changed.notified();
            if let Some(found) = lock(&self.0.events)
                .iter()
                .filter(|e| filter(e))
                .nth(n.saturating_sub(1))
            {
                return found.clone();
            }
            changed.await;
        }
    }

    /// Waits until a recorded event (counting those already recorded) matches `filter`, and
    /// returns the first that does.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes the record.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{EventRecorder, Running, Scripted, Step};
    /// use suture::{EventKind, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = EventRecorder::new();
    /// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
    /// sup.add(Scripted::new("svc", [Step::Panic, Step::Run])).unwrap();
    /// let tree = Running::start(sup).await;
    /// let event = recorder.wait_for(|e| matches!(e.kind, EventKind::Panicked { .. })).await;
    /// let EventKind::Panicked { message, .. } = event.kind else { unreachable!() };
    /// assert_eq!(message, "scripted panic");
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn wait_for(&self, filter: impl Fn(&Event) -> bool) -> Event {
        self.wait_for_nth(1, filter).await
    }

    /// Waits until the short line of some recorded event equals `line` (see [`describe`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes the record.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{EventRecorder, Running, Scripted};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = EventRecorder::new();
    /// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
    /// sup.add(Scripted::running("db")).unwrap();
    /// let tree = Running::start(sup).await;
    /// recorder.wait_for_line("app: started db").await;
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn wait_for_line(&self, line: &str) -> Event {
        self.wait_for(|e| describe(e) == line).await
    }
}

impl fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecorder")
            .field("events", &lock(&self.0.events).len())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking assertion elsewhere must not hide the record.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One short, stable line for an event, made for exact assertions on sequences:
///
/// | event | line |
/// |---|---|
/// | started | `app: started db` |
/// | returned an error | `app: db failed, restarting now` (or `after backoff`, `no restart`) |
/// | returned `Ok` | `app: db returned, no restart` |
/// | panicked | `app: db panicked, restarting now` |
/// | backoff started / ended | `app: backoff 15s`, `app: backoff ended` |
/// | stop time-out | `app: db stop timeout` |
/// | escalated | `app: escalated` |
/// | tree terminated | `app: db terminated the tree` |
///
/// Failure counts, messages and locations are left out; read [`Event::kind`] for those.
///
/// # Examples
///
/// ```
/// use suture::testing::{describe, EventRecorder, Running, Scripted, Step};
/// use suture::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let recorder = EventRecorder::new();
/// let sup = Supervisor::builder("app").event_hook(recorder.hook()).build().unwrap();
/// sup.add(Scripted::new("db", [Step::Fail, Step::Run])).unwrap();
/// let tree = Running::start(sup).await;
/// let failure = recorder.wait_for_nth(2, |_| true).await;
/// assert_eq!(describe(&failure), "app: db failed, restarting now");
/// tree.shutdown().await.unwrap();
/// # }
/// ```
pub fn describe(event: &Event) -> String {
    let sup = &event.supervisor;
    let restarting = |r: &Restarting| match r {
        Restarting::Now => "restarting now",
        Restarting::AfterBackoff => "restarting after backoff",
        _ => "no restart",
    };
    match &event.kind {
        EventKind::Started { service, .. } => format!("{sup}: started {service}"),
        EventKind::Panicked {
            service,
            restarting: r,
            ..
        } => format!("{sup}: {service} panicked, {}", restarting(r)),
        EventKind::Terminated {
            service,
            error,
            restarting: r,
            ..
        } => {
            let how = if error.is_some() {
                "failed"
            } else {
                "returned"
            };
            format!("{sup}: {service} {how}, {}", restarting(r))
        }
        EventKind::BackoffStarted { pause, .. } => format!("{sup}: backoff {pause:?}"),
        EventKind::BackoffEnded => format!("{sup}: backoff ended"),
        EventKind::StopTimeout { service } => format!("{sup}: {service} stop timeout"),
        EventKind::Escalated { .. } => format!("{sup}: escalated"),
        EventKind::TreeTerminated { service } => format!("{sup}: {service} terminated the tree"),
        #[allow(unreachable_patterns)]
        other => format!("{sup}: {other:?}"),
    }
}

/// A supervisor served in the background of a test, with the token that stops it.
///
/// # Examples
///
/// ```
/// use suture::testing::{Running, Scripted, Step};
/// use suture::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let sup = Supervisor::builder("app").build().unwrap();
/// sup.add(Scripted::new("quitter", [Step::TerminateTree])).unwrap();
/// // Ends by itself: `join` returns what the root returned.
/// let error = Running::start(sup).await.join().await.unwrap_err();
/// assert!(error.is_terminate_tree());
/// # }
/// ```
#[derive(Debug)]
pub struct Running {
    /// The supervisor's handle.
    pub handle: SupervisorHandle,
    /// Cancelling it stops the tree (as [`Running::shutdown`] does).
    pub token: CancellationToken,
    task: JoinHandle<ServiceResult>,
}

impl Running {
    /// Serves `sup` in the background; returns once its start-up is done, as
    /// [`Supervisor::serve_background`](crate::Supervisor::serve_background) does (every
    /// initial child started, each ready-gated one ready).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::Running;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let tree = Running::start(suture::Supervisor::builder("app").build().unwrap()).await;
    /// assert!(tree.handle.is_running());
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub async fn start(sup: Supervisor) -> Self {
        let handle = sup.handle();
        let token = CancellationToken::new();
        let task = sup.serve_background(Context::new(token.clone())).await;
        Running {
            handle,
            token,
            task,
        }
    }

    /// Cancels the tree and waits for it to stop; returns what its `serve` returned.
    ///
    /// # Panics
    ///
    /// If the supervisor's task panicked (only with `pass_through_panics`), the panic is
    /// resumed here so that the test fails with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::testing::{Running, Scripted, Step};
    /// use suture::Supervisor;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let sup = Supervisor::builder("app").build().unwrap();
    /// sup.add(Scripted::new("slow", [Step::StopSlowly(Duration::from_secs(2))])).unwrap();
    /// let tree = Running::start(sup).await;
    /// suture::testing::settle().await;
    /// let began = tokio::time::Instant::now();
    /// tree.shutdown().await.unwrap();
    /// assert_eq!(began.elapsed(), Duration::from_secs(2));
    /// # }
    /// ```
    pub async fn shutdown(self) -> ServiceResult {
        self.token.cancel();
        self.join().await
    }

    /// Waits for the tree to stop by itself (escalation, auto-shutdown, `TerminateTree`).
    ///
    /// # Panics
    ///
    /// As [`Running::shutdown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::{Running, Scripted, Step};
    /// use suture::{AutoShutdown, ChildSpec, Restart, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let sup = Supervisor::builder("batch")
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .build()
    ///     .unwrap();
    /// let job = Scripted::new("job", [Step::Return]);
    /// sup.add_with(job, ChildSpec::new().restart(Restart::Transient).significant(true)).unwrap();
    /// Running::start(sup).await.join().await.unwrap(); // the job finished: so did the tree
    /// # }
    /// ```
    pub async fn join(self) -> ServiceResult {
        match self.task.await {
            Ok(result) => result,
            Err(e) => match e.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                Err(e) => panic!("the supervisor task was cancelled: {e}"),
            },
        }
    }

    /// Whether the tree's task has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::testing::Running;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let tree = Running::start(suture::Supervisor::builder("app").build().unwrap()).await;
    /// assert!(!tree.is_finished());
    /// tree.shutdown().await.unwrap();
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Lets every task run until all are idle, on a paused clock, then advances time by at most
/// one millisecond (tokio's timer resolution).
///
/// Use it after an action whose effects you want settled before asserting ("nothing more
/// happens"); prefer waiting on a [`Probe`] or an [`EventRecorder`] for "this happens".
///
/// # Cancel safety
///
/// Cancel safe.
///
/// # Examples
///
/// ```
/// use suture::testing::{Running, Scripted};
/// use suture::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let svc = Scripted::running("web");
/// let probe = svc.probe();
/// let sup = Supervisor::builder("app").build().unwrap();
/// sup.add(svc).unwrap();
/// let tree = Running::start(sup).await;
/// suture::testing::settle().await; // everything that could run has run
/// assert_eq!(probe.starts(), 1);
/// tree.shutdown().await.unwrap();
/// # }
/// ```
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}
