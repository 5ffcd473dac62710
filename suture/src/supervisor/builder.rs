//! [`SupervisorBuilder`]: a supervisor's settings, each checked once, in `build()`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Supervisor;
use crate::error::BuildError;
use crate::event::{Event, EventHook};
use crate::spec::{AutoShutdown, OnExceeded, ShutdownOrder, Strategy};

/// Builds a [`Supervisor`]; every setting is checked by [`build`](Self::build).
///
/// Defaults (Go's suture where it has one): one_for_one; intensity 5 failures with a 30 s
/// half-life; on exceeding it, back off 15 s with jitter 0.5; 10 s shutdown budget per child;
/// reverse shutdown order; termination propagates; panics are caught; no auto-shutdown.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{OnExceeded, Strategy, Supervisor};
///
/// let sup = Supervisor::builder("listeners")
///     .strategy(Strategy::OneForAll)
///     .intensity(3, Duration::from_secs(10))
///     .on_exceeded(OnExceeded::Escalate)
///     .shutdown(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(sup.handle().name(), "listeners");
/// ```
#[must_use]
pub struct SupervisorBuilder {
    name: Cow<'static, str>,
    config: Config,
    backoff_set: bool,
    jitter_set: bool,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) strategy: Strategy,
    pub(crate) threshold: f64,
    pub(crate) half_life: Duration,
    pub(crate) on_exceeded: OnExceeded,
    pub(crate) backoff: Duration,
    pub(crate) jitter: f64,
    pub(crate) shutdown: Duration,
    pub(crate) shutdown_order: ShutdownOrder,
    pub(crate) propagate_termination: bool,
    pub(crate) pass_through_panics: bool,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) hook: Option<EventHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            strategy: Strategy::OneForOne,
            threshold: 5.0,
            half_life: Duration::from_secs(30),
            on_exceeded: OnExceeded::Backoff,
            backoff: Duration::from_secs(15),
            jitter: 0.5,
            shutdown: Duration::from_secs(10),
            shutdown_order: ShutdownOrder::Reverse,
            propagate_termination: true,
            pass_through_panics: false,
            auto_shutdown: AutoShutdown::Never,
            hook: None,
        }
    }
}
impl SupervisorBuilder {
    pub(super) fn new(name: Cow<'static, str>) -> Self {
        SupervisorBuilder {
            name,
            config: Config::default(),
            backoff_set: false,
            jitter_set: false,
        }
    }

    /// Which children restart when one must (default [`Strategy::OneForOne`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Strategy, Supervisor};
    ///
    /// // Restart both listeners together when either fails.
    /// let listeners = Supervisor::builder("listeners")
    ///     .strategy(Strategy::OneForAll)
    ///     .build();
    /// assert!(listeners.is_ok());
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// The failure threshold and the half-life of the failure count (default 5 per 30 s).
    ///
    /// Each failure does `failures = failures * 0.5^(elapsed / half_life) + 1`; when the
    /// count exceeds `threshold` (strictly), the supervisor backs off or escalates.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::Supervisor;
    ///
    /// // Tolerate about 3 failures a minute.
    /// assert!(Supervisor::builder("app").intensity(3, Duration::from_secs(60)).build().is_ok());
    /// // Zero is refused, with the setting named.
    /// let error = Supervisor::builder("app").intensity(0, Duration::from_secs(60)).build().unwrap_err();
    /// assert_eq!(error.field(), "intensity");
    /// ```
    pub fn intensity(mut self, threshold: impl Into<f64>, half_life: Duration) -> Self {
        self.config.threshold = threshold.into();
        self.config.half_life = half_life;
        self
    }

    /// What to do when intensity is exceeded (default [`OnExceeded::Backoff`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{OnExceeded, Supervisor};
    ///
    /// // Give up and let the parent decide, as an OTP supervisor does.
    /// let sup = Supervisor::builder("db").on_exceeded(OnExceeded::Escalate).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn on_exceeded(mut self, on_exceeded: OnExceeded) -> Self {
        self.config.on_exceeded = on_exceeded;
        self
    }

    /// How long restarts pause when intensity is exceeded, before jitter (default 15 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{OnExceeded, Supervisor};
    ///
    /// assert!(Supervisor::builder("app").backoff(Duration::from_secs(5)).build().is_ok());
    /// // A backoff means nothing to an escalating supervisor: refused rather than ignored.
    /// let error = Supervisor::builder("app")
    ///     .backoff(Duration::from_secs(5))
    ///     .on_exceeded(OnExceeded::Escalate)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(error.field(), "backoff");
    /// ```
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.config.backoff = backoff;
        self.backoff_set = true;
        self
    }

    /// Jitter as a fraction of the backoff: pause = backoff × (1 + U\[0, jitter)) (default 0.5).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// assert!(Supervisor::builder("app").jitter(0.1).build().is_ok());
    /// assert_eq!(Supervisor::builder("app").jitter(1.5).build().unwrap_err().field(), "jitter");
    /// ```
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.config.jitter = jitter;
        self.jitter_set = true;
        self
    }

    /// Each child's default shutdown budget (default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::Supervisor;
    ///
    /// let sup = Supervisor::builder("app").shutdown(Duration::from_secs(2)).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn shutdown(mut self, budget: Duration) -> Self {
        self.config.shutdown = budget;
        self
    }

    /// In which order children stop (default [`ShutdownOrder::Reverse`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ShutdownOrder, Supervisor};
    ///
    /// // A pool of similar connections: stop them all at once.
    /// let pool = Supervisor::builder("connections")
    ///     .shutdown_order(ShutdownOrder::Concurrent)
    ///     .build();
    /// assert!(pool.is_ok());
    /// ```
    pub fn shutdown_order(mut self, order: ShutdownOrder) -> Self {
        self.config.shutdown_order = order;
        self
    }

    /// Whether `TerminateTree` from below passes through this supervisor (default `true`).
    /// If not, this supervisor stops and returns `DoNotRestart`, so its parent drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// // A plugin host: a plugin asking to end the tree ends only the host.
    /// let plugins = Supervisor::builder("plugins").propagate_termination(false).build();
    /// assert!(plugins.is_ok());
    /// ```
    pub fn propagate_termination(mut self, propagate: bool) -> Self {
        self.config.propagate_termination = propagate;
        self
    }

    /// Re-raise children's panics instead of restarting them (default `false`): the
    /// supervisor stops its children, then panics with the same payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// // In tests, a panicking service should fail the test rather than be restarted.
    /// let sup = Supervisor::builder("under-test").pass_through_panics(true).build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn pass_through_panics(mut self, pass_through: bool) -> Self {
        self.config.pass_through_panics = pass_through;
        self
    }

    /// Shut down when significant children finish (default [`AutoShutdown::Never`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, AutoShutdown, ChildSpec, Context, Restart, Supervisor};
    ///
    /// // The supervisor ends when its main job does.
    /// let sup = Supervisor::builder("batch")
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .build()
    ///     .unwrap();
    /// let job = service_fn("job", |_ctx: Context| async { Ok(()) });
    /// let spec = ChildSpec::new().restart(Restart::Transient).significant(true);
    /// sup.add_with(job, spec).unwrap();
    /// ```
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.config.auto_shutdown = auto_shutdown;
        self
    }

    /// A callback receiving every event of this supervisor's subtree.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use suture::{Event, Supervisor};
    ///
    /// let events = Arc::new(AtomicUsize::new(0));
    /// let count = events.clone();
    /// let sup = Supervisor::builder("app")
    ///     .event_hook(move |_event: &Event| {
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build();
    /// assert!(sup.is_ok());
    /// ```
    pub fn event_hook(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.config.hook = Some(Arc::new(hook));
        self
    }

    /// Checks every setting and builds the supervisor.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the first setting that is zero or out of range: an empty name
    /// or one containing `/`, a threshold that is not a positive finite number, a zero
    /// half-life, backoff or shutdown, a jitter outside `0.0..=1.0`, or a backoff or jitter
    /// given with [`OnExceeded::Escalate`]. Every duration accepts `Duration::MAX`, meaning
    /// "never" (no decay, an endless backoff, no stop budget).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Supervisor;
    ///
    /// let error = Supervisor::builder("a/b").build().unwrap_err();
    /// assert_eq!(error.field(), "name");
    /// assert!(Supervisor::builder("app").build().is_ok());
    /// ```
    pub fn build(self) -> Result<Supervisor, BuildError> {
        let c = &self.config;
        if !super::names::is_valid(&self.name) {
            return Err(BuildError::new(
                "name",
                "must be non-empty and contain neither `/` nor `#`",
            ));
        }
        if !(c.threshold.is_finite() && c.threshold > 0.0) {
            return Err(BuildError::new(
                "intensity",
                format!(
                    "threshold must be a positive finite number, got {}",
                    c.threshold
                ),
            ));
        }
        if c.half_life.is_zero() {
            return Err(BuildError::new(
                "intensity",
                "half-life must be greater than zero",
            ));
        }
        if c.backoff.is_zero() {
            return Err(BuildError::new("backoff", "must be greater than zero"));
        }
        if self.backoff_set && c.on_exceeded == OnExceeded::Escalate {
            return Err(BuildError::new(
                "backoff",
                "has no effect with `OnExceeded::Escalate`; remove one of the two",
            ));
        }
        if self.jitter_set && c.on_exceeded == OnExceeded::Escalate {
            return Err(BuildError::new(
                "jitter",
                "has no effect with `OnExceeded::Escalate`; remove one of the two",
            ));
        }
        if !(c.jitter.is_finite() && (0.0..=1.0).contains(&c.jitter)) {
            return Err(BuildError::new(
                "jitter",
                format!("must be a fraction between 0.0 and 1.0, got {}", c.jitter),
            ));
        }
        if c.shutdown.is_zero() {
            return Err(BuildError::new(
                "shutdown",
                "must be greater than zero (use `Shutdown::Abort` on a child for no grace)",
            ));
        }
        Ok(Supervisor::new(self.name, self.config))
    }
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
