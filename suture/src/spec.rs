//! Policies: how a supervisor reacts to its children ([`Strategy`], [`OnExceeded`], ...) and
//! how each child is treated ([`ChildSpec`]).

use std::borrow::Cow;
use std::time::Duration;

use crate::error::SpecError;

/// Which children restart when one of them has to.
///
/// ```text
/// children a b c, b fails:   one_for_one: b     one_for_all: a b c     rest_for_one: b c
/// ```
/// Siblings that restart with the failed child are first stopped in reverse start order
/// (each within its shutdown budget), then all start again in start order.
///
/// # Examples
///
/// ```
/// use suture::{Strategy, Supervisor};
///
/// // Listeners that share a socket pool restart together.
/// let listeners = Supervisor::builder("listeners").strategy(Strategy::OneForAll).build();
/// assert!(listeners.is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that ended restarts.
    #[default]
    OneForOne,
    /// Every child restarts together.
    OneForAll,
    /// The child that ended and every child started after it restart.
    RestForOne,
}

/// When a child is restarted after it ends (OTP's restart types).
///
/// # Examples
///
/// ```
/// use suture::{ChildSpec, Restart};
///
/// // A migration runs once to completion; it is retried only if it fails.
/// let spec = ChildSpec::new().restart(Restart::Transient);
/// assert_eq!(spec.get_restart(), Restart::Transient);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Restart {
    /// Always restarted, even after returning `Ok(())`.
    #[default]
    Permanent,
    /// Restarted only after a failure or a panic; a normal return leaves it stopped.
    Transient,
    /// Never restarted; forgotten when it ends.
    Temporary,
}

/// How long a child gets to stop once it is told to.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{ChildSpec, Shutdown};
///
/// let flush_logs = ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_secs(30)));
/// let stateless = ChildSpec::new().shutdown(Shutdown::Abort);
/// assert_ne!(flush_logs, stateless);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shutdown {
    /// Wait this long for it to return, then abort its task.
    Timeout(Duration),
    /// Abort at once, without a grace period.
    Abort,
    /// Wait as long as it takes (the default for supervisors, which bound their own children).
    Infinity,
}

/// What a supervisor does when its failure count exceeds the intensity threshold.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{OnExceeded, Supervisor};
///
/// // OTP's behaviour: give up and let the parent decide.
/// let strict = Supervisor::builder("payments")
///     .intensity(3, Duration::from_secs(5))
///     .on_exceeded(OnExceeded::Escalate)
///     .build();
/// assert!(strict.is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OnExceeded {
    /// Pause restarts for the backoff (plus jitter), then resume (Go's suture).
    #[default]
    Backoff,
    /// Stop every child and fail to the parent (OTP).
    Escalate,
}

/// In which order children are stopped when their supervisor stops.
///
/// # Examples
///
/// ```
/// use suture::{ShutdownOrder, Supervisor};
///
/// // Ten thousand connection handlers need not stop one by one.
/// let pool = Supervisor::builder("connections").shutdown_order(ShutdownOrder::Concurrent).build();
/// assert!(pool.is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ShutdownOrder {
    /// One at a time, last started first, each within its budget (OTP).
    #[default]
    Reverse,
    /// All at once, each within its own budget (suture; for large dynamic pools).
    Concurrent,
}

/// When a supervisor shuts itself down because its significant children have finished (OTP).
///
/// # Examples
///
/// ```
/// use suture::{service_fn, AutoShutdown, ChildSpec, Restart, Supervisor};
///
/// // A work unit: done when its job is done.
/// let unit = Supervisor::builder("import").auto_shutdown(AutoShutdown::AnySignificant).build().unwrap();
/// let job = service_fn("job", |_ctx| async move { Ok(()) });
/// unit.add_with(job, ChildSpec::new().restart(Restart::Transient).significant(true)).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AutoShutdown {
    /// Never.
    #[default]
    Never,
    /// As soon as any significant child ends on its own without being restarted.
    AnySignificant,
    /// Once every significant child has ended on its own without being restarted.
    AllSignificant,
}

/// How a supervisor treats one child: restart type, shutdown budget, readiness, significance.
///
/// A service gives its default through [`Service::child_spec`](crate::Service::child_spec);
/// [`SupervisorHandle::add_with`](crate::SupervisorHandle::add_with) overrides it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{ChildSpec, Restart, Shutdown};
///
/// let spec = ChildSpec::new()
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
///     .ready_within(Duration::from_secs(10));
/// assert_eq!(spec.get_restart(), Restart::Transient);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChildSpec {
    restart: Restart,
    shutdown: Option<Shutdown>,
    ready: Option<Duration>,
    significant: bool,
    name: Option<Cow<'static, str>>,
}

impl ChildSpec {
    /// Permanent, ready immediately, the supervisor's shutdown budget, not significant.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ChildSpec, Restart};
    ///
    /// let spec = ChildSpec::new();
    /// assert_eq!(spec.get_restart(), Restart::Permanent);
    /// assert!(spec.get_shutdown().is_none()); // the supervisor's budget applies
    /// ```
    pub fn new() -> Self {
        ChildSpec::default()
    }

    /// Sets the restart type.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ChildSpec, Restart};
    ///
    /// let spec = ChildSpec::new().restart(Restart::Temporary);
    /// assert_eq!(spec.get_restart(), Restart::Temporary);
    /// ```
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown budget (default: the supervisor's).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::{ChildSpec, Shutdown};
    ///
    /// let spec = ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_secs(30)));
    /// assert_eq!(spec.get_shutdown(), Some(Shutdown::Timeout(Duration::from_secs(30))));
    /// ```
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Requires the child to call [`Context::ready`](crate::Context::ready) within `timeout`
    /// before its next sibling starts; a child that does not has failed its start. The
    /// children after it wait until it has been ready once in the serve (through its
    /// restarts), and again whenever its group restarts (see
    /// [the guide](crate::guide#ordering-and-shutdown)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use suture::ChildSpec;
    ///
    /// let spec = ChildSpec::new().ready_within(Duration::from_secs(10));
    /// assert_eq!(spec.get_ready_within(), Some(Duration::from_secs(10)));
    /// ```
    #[must_use]
    pub fn ready_within(mut self, timeout: Duration) -> Self {
        self.ready = Some(timeout);
        self
    }

    /// Marks the child significant for the supervisor's [`AutoShutdown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ChildSpec, Restart};
    ///
    /// let spec = ChildSpec::new().restart(Restart::Transient).significant(true);
    /// assert!(spec.is_significant());
    /// ```
    #[must_use]
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Names the child, instead of the service's own [`name`](crate::Service::name).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ChildSpec;
    ///
    /// let spec = ChildSpec::new().name("primary-db");
    /// assert_eq!(spec.get_name(), Some("primary-db"));
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The restart type.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ChildSpec, Restart};
    ///
    /// assert_eq!(ChildSpec::new().get_restart(), Restart::Permanent);
    /// ```
    pub fn get_restart(&self) -> Restart {
        self.restart
    }

    /// The shutdown budget, or `None` for the supervisor's default.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{ChildSpec, Shutdown};
    ///
    /// assert_eq!(ChildSpec::new().shutdown(Shutdown::Abort).get_shutdown(), Some(Shutdown::Abort));
    /// assert_eq!(ChildSpec::new().get_shutdown(), None);
    /// ```
    pub fn get_shutdown(&self) -> Option<Shutdown> {
        self.shutdown
    }

    /// The ready timeout, or `None` if the child is ready as soon as it starts.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(suture::ChildSpec::new().get_ready_within(), None);
    /// ```
    pub fn get_ready_within(&self) -> Option<Duration> {
        self.ready
    }

    /// Whether the child is significant.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!suture::ChildSpec::new().is_significant());
    /// ```
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// The name set on the spec, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(suture::ChildSpec::new().get_name(), None);
    /// ```
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn take_name(&mut self) -> Option<Cow<'static, str>> {
        self.name.take()
    }

    /// What the supervisor keeps once the child is added: everything but the name.
    pub(crate) fn policy(&self) -> ChildPolicy {
        ChildPolicy {
            restart: self.restart,
            shutdown: self.shutdown,
            ready: self.ready,
            significant: self.significant,
        }
    }

    /// Checks the spec against the supervisor that will run it.
    pub(crate) fn validate(
        &self,
        child: &str,
        auto_shutdown: AutoShutdown,
    ) -> Result<(), SpecError> {
        if !crate::supervisor::is_valid_name(child) {
            return Err(SpecError::InvalidName {
                child: child.to_owned(),
            });
        }
        if self.significant && self.restart == Restart::Permanent {
            return Err(SpecError::SignificantPermanent {
                child: child.to_owned(),
            });
        }
        if self.significant && auto_shutdown == AutoShutdown::Never {
            return Err(SpecError::SignificantWithoutAutoShutdown {
                child: child.to_owned(),
            });
        }
        if self.ready == Some(Duration::ZERO) {
            return Err(SpecError::ZeroDuration {
                child: child.to_owned(),
                field: "ready",
            });
        }
        if self.shutdown == Some(Shutdown::Timeout(Duration::ZERO)) {
            return Err(SpecError::ZeroDuration {
                child: child.to_owned(),
                field: "shutdown",
            });
        }
        Ok(())
    }
}

/// A [`ChildSpec`] without its name, as a supervisor keeps it for each child: a pool of a
/// million children keeps a million of these, so it stays small.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildPolicy {
    pub(crate) restart: Restart,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) ready: Option<Duration>,
    pub(crate) significant: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_child_and_the_rule() {
        let never = AutoShutdown::Never;
        let any = AutoShutdown::AnySignificant;
        assert!(ChildSpec::new().validate("a", never).is_ok());
        assert!(matches!(
            ChildSpec::new().significant(true).validate("a", any),
            Err(SpecError::SignificantPermanent { .. })
        ));
        assert!(matches!(
            ChildSpec::new()
                .restart(Restart::Transient)
                .significant(true)
                .validate("a", never),
            Err(SpecError::SignificantWithoutAutoShutdown { .. })
        ));
        assert!(
            ChildSpec::new()
                .restart(Restart::Transient)
                .significant(true)
                .validate("a", any)
                .is_ok()
        );
        assert!(matches!(
            ChildSpec::new()
                .ready_within(Duration::ZERO)
                .validate("a", never),
            Err(SpecError::ZeroDuration { field: "ready", .. })
        ));
        assert!(matches!(
            ChildSpec::new()
                .shutdown(Shutdown::Timeout(Duration::ZERO))
                .validate("a", never),
            Err(SpecError::ZeroDuration {
                field: "shutdown",
                ..
            })
        ));
        assert!(matches!(
            ChildSpec::new().validate("a/b", never),
            Err(SpecError::InvalidName { .. })
        ));
        assert!(matches!(
            ChildSpec::new().validate("", never),
            Err(SpecError::InvalidName { .. })
        ));
    }
}
