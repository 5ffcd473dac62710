//! Errors: how a service ends ([`ServiceError`]) and how the API refuses misuse
//! ([`SupervisorError`], [`BuildError`], [`SpecError`]).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed error that can cross threads: what a failed service carries.
///
/// # Examples
///
/// ```
/// use suture::{BoxError, ServiceError};
///
/// let boxed: BoxError = ServiceError::msg("disk full").into();
/// assert_eq!(boxed.to_string(), "disk full");
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What [`Service::serve`](crate::Service::serve) returns.
///
/// # Examples
///
/// ```
/// use suture::{Context, ServiceResult};
///
/// async fn serve(ctx: Context) -> ServiceResult {
///     let port: u16 = "8080".parse()?; // any std error converts with `?`
///     assert_eq!(port, 8080);
///     ctx.cancelled().await;
///     Ok(())
/// }
/// # let _ = suture::service_fn("server", serve);
/// ```
pub type ServiceResult = Result<(), ServiceError>;

/// Why a service stopped, when it did not simply return `Ok(())`.
///
/// Any `std::error::Error + Send + Sync + 'static` converts into it, so `?` works inside
/// `serve`. Two special outcomes ask the supervisor for more than a restart:
/// [`ServiceError::do_not_restart`] and [`ServiceError::terminate_tree`]. They keep their
/// meaning when wrapped, as Go's `errors.Is` finds them: boxed (into a [`BoxError`]), given to
/// [`ServiceError::new`], or as the [`source`](StdError::source) of another error at any depth.
///
/// Like `anyhow::Error`, `ServiceError` does not implement `std::error::Error` itself (that
/// would forbid the blanket conversion); [`ServiceError::source_error`] exposes the cause.
///
/// # Examples
///
/// ```
/// use suture::ServiceResult;
///
/// fn parse_port(text: &str) -> ServiceResult {
///     let _port: u16 = text.parse()?; // ParseIntError converts into ServiceError
///     Ok(())
/// }
/// let err = parse_port("http").unwrap_err();
/// assert!(err.source_error().is_some());
/// assert!(!err.is_do_not_restart());
/// ```
pub struct ServiceError {
    kind: Kind,
}

enum Kind {
    DoNotRestart,
    TerminateTree,
    Failed(BoxError),
}

/// One of the two outcomes that ask the supervisor for more than a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    DoNotRestart,
    TerminateTree,
}

impl ServiceError {
    /// The service is finished for good: its supervisor forgets it, whatever its restart type.
    ///
    /// This is not a failure: it restarts nothing and counts nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, ServiceError, ServiceResult};
    ///
    /// async fn serve(_ctx: Context) -> ServiceResult {
    ///     let licensed = false;
    ///     if !licensed {
    ///         return Err(ServiceError::do_not_restart()); // restarting will not help
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = suture::service_fn("feature", serve);
    /// assert!(ServiceError::do_not_restart().is_do_not_restart());
    /// ```
    pub fn do_not_restart() -> Self {
        ServiceError {
            kind: Kind::DoNotRestart,
        }
    }

    /// Stop the supervisor of this service, and its parents up to one that does not
    /// propagate termination (or the root).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ServiceError;
    ///
    /// let error = ServiceError::terminate_tree();
    /// assert!(error.is_terminate_tree());
    /// assert!(!error.is_do_not_restart());
    /// ```
    pub fn terminate_tree() -> Self {
        ServiceError {
            kind: Kind::TerminateTree,
        }
    }

    /// A failure with a plain message, for when no error type fits.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = suture::ServiceError::msg("upstream closed the connection");
    /// assert_eq!(err.to_string(), "upstream closed the connection");
    /// ```
    pub fn msg(message: impl Into<Cow<'static, str>>) -> Self {
        ServiceError::new(Message(message.into()))
    }

    /// A failure caused by `error`.
    ///
    /// Also the way in for an `anyhow::Error` (which converts into a [`BoxError`] but, not
    /// being a `std::error::Error`, cannot have a `From` impl beside the one for every error
    /// type): `result.map_err(ServiceError::new)?`.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ServiceError;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::Other, "socket closed");
    /// let error = ServiceError::new(io);
    /// assert!(error.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn new(error: impl Into<BoxError>) -> Self {
        ServiceError {
            kind: Kind::Failed(error.into()),
        }
    }

    /// Whether this is the [`do_not_restart`](Self::do_not_restart) outcome, even wrapped: the
    /// failure, or an error in its [`source`](StdError::source) chain, is its boxed form.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{BoxError, ServiceError};
    ///
    /// assert!(ServiceError::do_not_restart().is_do_not_restart());
    /// assert!(!ServiceError::msg("boom").is_do_not_restart());
    ///
    /// let boxed: BoxError = ServiceError::do_not_restart().into();
    /// assert!(ServiceError::new(boxed).is_do_not_restart());
    /// ```
    pub fn is_do_not_restart(&self) -> bool {
        self.special() == Some(Special::DoNotRestart)
    }

    /// Whether this is the [`terminate_tree`](Self::terminate_tree) outcome, even wrapped (as
    /// for [`is_do_not_restart`](Self::is_do_not_restart)).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ServiceError;
    ///
    /// assert!(ServiceError::terminate_tree().is_terminate_tree());
    /// assert!(!ServiceError::msg("boom").is_terminate_tree());
    /// assert!(ServiceError::new(ServiceError::terminate_tree()).is_terminate_tree());
    /// ```
    pub fn is_terminate_tree(&self) -> bool {
        self.special() == Some(Special::TerminateTree)
    }

    /// The special outcome this is, directly or wrapped.
    pub(crate) fn special(&self) -> Option<Special> {
        match &self.kind {
            Kind::DoNotRestart => Some(Special::DoNotRestart),
            Kind::TerminateTree => Some(Special::TerminateTree),
            Kind::Failed(error) => {
                let mut next: Option<&(dyn StdError + 'static)> = Some(error.as_ref());
                while let Some(error) = next {
                    if let Some(outcome) = error.downcast_ref::<SpecialOutcome>() {
                        return Some(outcome.0);
                    }
                    next = error.source();
                }
                None
            }
        }
    }

    /// The error that caused the failure; `None` for the two special outcomes.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ServiceError;
    ///
    /// let error: ServiceError = "x".parse::<u8>().unwrap_err().into();
    /// assert!(error.source_error().is_some());
    /// assert!(ServiceError::do_not_restart().source_error().is_none());
    /// ```
    pub fn source_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &self.kind {
            Kind::Failed(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// The cause, if it is an `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = suture::ServiceError::from(std::io::Error::other("disk full"));
    /// assert!(err.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.source_error()?.downcast_ref::<E>()
    }

    /// Turns the failure into its boxed cause; the special outcomes become a small error
    /// saying which they were, which [`is_do_not_restart`](Self::is_do_not_restart) and
    /// [`is_terminate_tree`](Self::is_terminate_tree) still recognise once it is wrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::ServiceError;
    ///
    /// let boxed = ServiceError::msg("boom").into_boxed();
    /// assert_eq!(boxed.to_string(), "boom");
    ///
    /// let boxed = ServiceError::do_not_restart().into_boxed();
    /// assert_eq!(boxed.to_string(), "service asked not to be restarted");
    /// assert!(ServiceError::new(boxed).is_do_not_restart());
    /// ```
    pub fn into_boxed(self) -> BoxError {
        match self.kind {
            Kind::Failed(e) => e,
            Kind::DoNotRestart => Box::new(SpecialOutcome(Special::DoNotRestart)),
            Kind::TerminateTree => Box::new(SpecialOutcome(Special::TerminateTree)),
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for ServiceError {
    fn from(error: E) -> Self {
        ServiceError::new(error)
    }
}

/// So that `?` works in functions returning `Result<_, Box<dyn Error + Send + Sync>>`.
impl From<ServiceError> for BoxError {
    fn from(error: ServiceError) -> Self {
        error.into_boxed()
    }
}

/// So that `?` works in `main` functions returning `Result<(), Box<dyn Error>>`.
impl From<ServiceError> for Box<dyn StdError + 'static> {
    fn from(error: ServiceError) -> Self {
        error.into_boxed()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::DoNotRestart => fmt::Display::fmt(&SpecialOutcome(Special::DoNotRestart), f),
            Kind::TerminateTree => fmt::Display::fmt(&SpecialOutcome(Special::TerminateTree), f),
            Kind::Failed(e) => {
                fmt::Display::fmt(e, f)?;
                // Show the chain, as `anyhow`'s alternate form does, so logs keep the causes.
                if f.alternate() {
                    let mut source = e.source();
                    while let Some(cause) = source {
                        write!(f, ": {cause}")?;
                        source = cause.source();
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::DoNotRestart => f.write_str("ServiceError::DoNotRestart"),
            Kind::TerminateTree => f.write_str("ServiceError::TerminateTree"),
            Kind::Failed(e) => f.debug_tuple("ServiceError").field(e).finish(),
        }
    }
}

/// A plain-text error, behind [`ServiceError::msg`].
#[derive(Debug)]
struct Message(Cow<'static, str>);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// The boxed form of a special outcome ([`ServiceError::into_boxed`]): it remembers which it
/// was, so that the outcome survives being wrapped.
#[derive(Debug)]
struct SpecialOutcome(Special);

impl fmt::Display for SpecialOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Special::DoNotRestart => "service asked not to be restarted",
            Special::TerminateTree => "service asked to terminate the supervisor tree",
        })
    }
}

impl StdError for SpecialOutcome {}

/// A request to a supervisor that it refused.
///
/// # Examples
///
/// ```
/// use suture::{Supervisor, SupervisorError};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let a = Supervisor::builder("a").build().unwrap();
/// let b = Supervisor::builder("b").build().unwrap();
/// let token = b.add(suture::service_fn("job", |_ctx| async { Ok(()) })).unwrap();
/// let error = a.handle().remove(token).await.unwrap_err();
/// assert!(matches!(error, SupervisorError::WrongSupervisor { .. }));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The token was issued by another supervisor.
    #[error("the token belongs to supervisor #{token_owner}, not to `{supervisor}`")]
    WrongSupervisor {
        /// The supervisor that was asked.
        supervisor: String,
        /// The id of the supervisor that issued the token.
        token_owner: u64,
    },
    /// The child was already removed, or finished and was forgotten.
    #[error("`{supervisor}` has no child with this token (already removed or finished)")]
    UnknownChild {
        /// The supervisor that was asked.
        supervisor: String,
    },
    /// The supervisor has finished: it stopped for good (its `serve` has returned, or is
    /// returning) and takes no new children and no requests.
    #[error("supervisor `{supervisor}` has finished")]
    Finished {
        /// The supervisor that was asked.
        supervisor: String,
    },
    /// The request needs the supervisor's loop, which is not running now.
    #[error("supervisor `{supervisor}` is not running")]
    NotRunning {
        /// The supervisor that was asked.
        supervisor: String,
    },
    /// `serve` was called on a supervisor that is already being served.
    #[error("supervisor `{supervisor}` is already running")]
    AlreadyRunning {
        /// The supervisor that was asked.
        supervisor: String,
    },
    /// A wait given by the caller ran out.
    #[error("timed out after {0:?} waiting for the child to stop")]
    WaitElapsed(Duration),
    /// The child ignored its shutdown and its abort: it is listed as unstopped.
    #[error("the child did not stop, even when aborted")]
    Unstoppable,
    /// `start_child` was asked to start a child that is running, starting or about to
    /// restart.
    #[error("child `{child}` of `{supervisor}` is already running")]
    ChildRunning {
        /// The supervisor that was asked.
        supervisor: String,
        /// The child's name.
        child: String,
    },
    /// The child's spec is invalid for this supervisor.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
}

/// A [`ChildSpec`](crate::ChildSpec) that a supervisor cannot accept.
///
/// # Examples
///
/// ```
/// use suture::{service_fn, ChildSpec, Restart, SpecError, Supervisor, SupervisorError};
///
/// let sup = Supervisor::builder("app").build().unwrap();
/// let job = service_fn("job", |_ctx| async { Ok(()) });
/// // `significant` needs `auto_shutdown` on the supervisor.
/// let spec = ChildSpec::new().restart(Restart::Transient).significant(true);
/// let error = sup.add_with(job, spec).unwrap_err();
/// assert!(matches!(
///     error,
///     SupervisorError::InvalidSpec(SpecError::SignificantWithoutAutoShutdown { .. })
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// `significant` is only meaningful for a child that can end without being restarted.
    #[error(
        "child `{child}`: a permanent child cannot be significant; make it transient or temporary"
    )]
    SignificantPermanent {
        /// The child's name.
        child: String,
    },
    /// `significant` does nothing unless the supervisor shuts down automatically.
    #[error(
        "child `{child}`: `significant` needs the supervisor's auto_shutdown to be any_significant or all_significant"
    )]
    SignificantWithoutAutoShutdown {
        /// The child's name.
        child: String,
    },
    /// A zero duration where one makes no sense.
    #[error("child `{child}`: `{field}` must be greater than zero")]
    ZeroDuration {
        /// The child's name.
        child: String,
        /// The option at fault.
        field: &'static str,
    },
    /// A name the supervisor cannot use in paths.
    #[error(
        "child name `{child}` is invalid: it must be non-empty and contain neither `/` nor `#`"
    )]
    InvalidName {
        /// The name given.
        child: String,
    },
}

/// A supervisor builder setting that was rejected by
/// [`SupervisorBuilder::build`](crate::SupervisorBuilder::build).
///
/// # Examples
///
/// ```
/// let err = suture::Supervisor::builder("app").jitter(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "jitter");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid supervisor setting `{field}`: {reason}")]
pub struct BuildError {
    field: &'static str,
    reason: String,
}

impl BuildError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        BuildError {
            field,
            reason: reason.into(),
        }
    }

    /// The builder setting at fault, e.g. `"jitter"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let error = suture::Supervisor::builder("app").jitter(2.0).build().unwrap_err();
    /// assert_eq!(error.field(), "jitter");
    /// ```
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What was wrong with it.
    ///
    /// # Examples
    ///
    /// ```
    /// let error = suture::Supervisor::builder("").build().unwrap_err();
    /// assert!(error.reason().contains("non-empty"));
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The error a supervisor in `escalate` mode returns when its intensity is exceeded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "restart intensity of `{supervisor}` exceeded: {failures:.2} failures > threshold {threshold}"
)]
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::{service_fn, Context, IntensityExceeded, OnExceeded, ServiceError, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let sup = Supervisor::builder("app")
///     .intensity(1, Duration::from_secs(10))
///     .on_exceeded(OnExceeded::Escalate)
///     .build()
///     .unwrap();
/// sup.add(service_fn("broken", |_ctx: Context| async { Err(ServiceError::msg("boom")) }))
///     .unwrap();
/// let task = sup.serve_background(Context::new(CancellationToken::new())).await;
/// let error = task.await.unwrap().unwrap_err();
/// let exceeded = error.downcast_ref::<IntensityExceeded>().unwrap();
/// assert_eq!(exceeded.supervisor, "app");
/// # }
/// ```
pub struct IntensityExceeded {
    /// The path of the supervisor that gave up.
    pub supervisor: String,
    /// The decayed failure count when it gave up.
    pub failures: f64,
    /// The threshold it crossed.
    pub threshold: f64,
}

/// The failure of a child that did not call [`Context::ready`](crate::Context::ready) within
/// its ready timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use suture::NotReady;
///
/// assert_eq!(NotReady(Duration::from_secs(5)).to_string(), "not ready within 5s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not ready within {0:?}")]
pub struct NotReady(pub Duration);

#[cfg(test)]
mod tests {
    use super::*;

    /// A user error whose cause is another error, as `#[source]` makes one.
    #[derive(Debug)]
    struct Wrapper(BoxError);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("while serving")
        }
    }

    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(self.0.as_ref())
        }
    }

    /// `outcome` wrapped each way: in `new`, boxed, as a source, as a source's source.
    fn wrapped(outcome: fn() -> ServiceError) -> [ServiceError; 4] {
        let boxed: BoxError = outcome().into();
        [
            ServiceError::new(outcome()),
            ServiceError::new(boxed),
            ServiceError::from(Wrapper(outcome().into())),
            ServiceError::from(Wrapper(Box::new(Wrapper(outcome().into_boxed())))),
        ]
    }

    #[test]
    fn do_not_restart_keeps_its_meaning_when_wrapped() {
        for error in wrapped(ServiceError::do_not_restart) {
            assert!(error.is_do_not_restart(), "{error:?}");
            assert!(!error.is_terminate_tree(), "{error:?}");
        }
    }

    #[test]
    fn terminate_tree_keeps_its_meaning_when_wrapped() {
        for error in wrapped(ServiceError::terminate_tree) {
            assert!(error.is_terminate_tree(), "{error:?}");
            assert!(!error.is_do_not_restart(), "{error:?}");
        }
    }

    #[test]
    fn ordinary_failures_are_neither_outcome_however_wrapped() {
        for error in wrapped(|| ServiceError::msg("service asked not to be restarted")) {
            assert!(!error.is_do_not_restart(), "{error:?}");
            assert!(!error.is_terminate_tree(), "{error:?}");
        }
    }

    #[test]
    fn the_boxed_outcome_says_which_it_was() {
        let boxed = ServiceError::terminate_tree().into_boxed();
        assert_eq!(
            boxed.to_string(),
            ServiceError::terminate_tree().to_string()
        );
        let wrapped = ServiceError::new(Wrapper(boxed));
        assert_eq!(
            format!("{wrapped:#}"),
            "while serving: service asked to terminate the supervisor tree"
        );
    }
}
