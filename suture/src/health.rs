//! How a tree is doing: [`Health`], kept up to date by every supervisor (also re-exported at
//! the crate's root), and, with the `health` feature, `HealthEndpoint`, which serves it over
//! HTTP.
//!
//! # The endpoint
//!
//! | path      | 200 when                          | otherwise                                  |
//! |-----------|-----------------------------------|--------------------------------------------|
//! | `/livez`  | the root's loop answers           | 503: wedged, or stopped                    |
//! | `/readyz` | every node of the tree is running | 503, listing each path not running and why |
//! | `/tree`   | always (the printed tree)         | 503 if the root's loop does not answer     |
//!
//! Bodies are plain text. `GET` and `HEAD` only (others get 405 with `Allow: GET, HEAD`);
//! any other path gets 404. "Answers" means within half a second, under Kubernetes' default
//! probe timeout of one second.
//!
//! Liveness is deliberately narrow: a child crash-looping behind a backoff is the tree doing
//! its job, and restarting the process would not help; that shows in `/readyz` instead, which
//! takes the pod out of the Service's endpoints until the tree is whole again. The guide's
//! [Kubernetes section](crate::guide#running-under-kubernetes) shows the probes.

#[cfg(feature = "health")]
mod endpoint;
#[cfg(feature = "health")]
#[cfg_attr(docsrs, doc(cfg(feature = "health")))]
pub use endpoint::HealthEndpoint;

use std::fmt;
use std::sync::Arc;

use crate::tree::ChildState;

/// How a node of the tree is doing: a child by its own state, a supervisor by its whole
/// subtree.
///
/// A supervisor keeps its own health up to date as its children change, and tells its
/// parent, so that [`SupervisorHandle::health`](crate::SupervisorHandle::health) is a cheap
/// read (no walk of the tree) and a subtree in trouble makes every supervisor above it
/// [`Degraded`](Health::Degraded): a subtree whose every child is backed off does not look
/// healthy from the root. A parent learns of a change in a child supervisor's health after
/// one turn of its loop.
///
/// What counts as not healthy in a running supervisor: a child starting (not ready yet),
/// restarting, backed off, stopping, a permanent child stopped (by
/// [`stop_child`](crate::SupervisorHandle::stop_child)), and a child supervisor that is not
/// healthy itself. A transient or temporary child that has finished is fine.
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Context, Health, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").build().unwrap();
/// sup.add(service_fn("db", |ctx: Context| async move {
///     ctx.cancelled().await;
///     Ok(())
/// }))
/// .unwrap();
/// let handle = sup.handle();
/// assert_eq!(handle.health(), Health::Stopped); // not served yet
/// let stop = CancellationToken::new();
/// let task = sup.serve_background(Context::new(stop.clone())).await;
/// assert_eq!(handle.health(), Health::Healthy);
/// assert!(handle.health().unhealthy().is_empty());
/// stop.cancel();
/// task.await.unwrap().unwrap();
/// assert_eq!(handle.health(), Health::Stopped);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Health {
    /// Starting its initial children (a child: started, not ready yet, or about to restart).
    Starting,
    /// Everything runs (and is ready).
    Healthy,
    /// Running, but some of the subtree is not running or not ready.
    Degraded {
        /// The paths not running or not ready, in start order, deepest known first: for a
        /// child supervisor in trouble, the paths in trouble under it.
        unhealthy: Vec<Arc<str>>,
    },
    /// Restarts are paused: the supervisor's restart intensity was exceeded (a child: it
    /// waits for its supervisor's backoff to end).
    BackingOff {
        /// The paths not running or not ready, as for [`Degraded`](Health::Degraded).
        unhealthy: Vec<Arc<str>>,
    },
    /// Stopping its children, on its way to [`Stopped`](Health::Stopped) or
    /// [`Failed`](Health::Failed).
    Stopping,
    /// Not being served: not yet, or no more (cancelled, finished, removed).
    #[default]
    Stopped,
    /// Its last serve ended in failure (it escalated, or a child panicked through it).
    Failed,
}

impl Health {
    /// Whether everything runs: the answer for a readiness probe.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Health;
    ///
    /// assert!(Health::Healthy.is_healthy());
    /// assert!(!Health::Starting.is_healthy());
    /// ```
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }

    /// The paths not running or not ready (for [`Degraded`](Health::Degraded) and
    /// [`BackingOff`](Health::BackingOff)); empty otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::Health;
    ///
    /// assert!(Health::Healthy.unhealthy().is_empty());
    /// ```
    pub fn unhealthy(&self) -> &[Arc<str>] {
        match self {
            Health::Degraded { unhealthy } | Health::BackingOff { unhealthy } => unhealthy,
            _ => &[],
        }
    }

    /// One lower-case word or two: `starting`, `healthy`, `degraded`, `backing off`,
    /// `stopping`, `stopped`, `failed` (what `{}` starts with).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(suture::Health::Stopped.label(), "stopped");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Degraded { .. } => "degraded",
            Health::BackingOff { .. } => "backing off",
            Health::Stopping => "stopping",
            Health::Stopped => "stopped",
            Health::Failed => "failed",
        }
    }

    /// A child's own health, by its state (a child supervisor's comes from its own summary).
    pub(crate) fn of_state(state: ChildState) -> Health {
        match state {
            ChildState::Starting | ChildState::Restarting => Health::Starting,
            ChildState::Running => Health::Healthy,
            ChildState::Stopping => Health::Stopping,
            ChildState::BackedOff => Health::BackingOff {
                unhealthy: Vec::new(),
            },
            ChildState::Stopped => Health::Stopped,
        }
    }
}

/// How many paths `{}` lists before saying how many more there are.
const SHOWN: usize = 3;

impl fmt::Display for Health {
    /// The label, then the paths in trouble, at most three:
    /// `degraded (not running: app/a, app/b, app/c and 2 more)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())?;
        let unhealthy = self.unhealthy();
        if unhealthy.is_empty() {
            return Ok(());
        }
        f.write_str(" (not running: ")?;
        for (i, path) in unhealthy.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(path)?;
        }
        if unhealthy.len() > SHOWN {
            write!(f, " and {} more", unhealthy.len() - SHOWN)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn display_names_the_state_and_at_most_three_paths() {
        assert_eq!(Health::Healthy.to_string(), "healthy");
        let unhealthy = |n: usize| {
            (0..n)
                .map(|i| format!("app/{i}").into())
                .collect::<Vec<_>>()
        };
        let degraded = Health::Degraded {
            unhealthy: unhealthy(1),
        };
        assert_eq!(degraded.to_string(), "degraded (not running: app/0)");
        let backing_off = Health::BackingOff {
            unhealthy: unhealthy(5),
        };
        assert_eq!(
            backing_off.to_string(),
            "backing off (not running: app/0, app/1, app/2 and 2 more)"
        );
        assert_eq!(backing_off.unhealthy().len(), 5);
        assert!(!backing_off.is_healthy());
    }
}
