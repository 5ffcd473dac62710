//! Introspection: tokens, per-child snapshots, the printable tree, the unstopped report.

use std::fmt;
use std::time::Duration;

use crate::spec::Restart;
use crate::supervisor::SupervisorHandle;

/// Identifies one child of one supervisor; returned by `add`, taken by `remove`.
///
/// # Examples
///
/// ```
/// use suture::{service_fn, Supervisor};
///
/// let a = Supervisor::builder("a").build().unwrap();
/// let b = Supervisor::builder("b").build().unwrap();
/// let job = || service_fn("job", |_ctx| async move { Ok(()) });
/// // Tokens are unique per supervisor and per child.
/// assert_ne!(a.add(job()).unwrap(), b.add(job()).unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildToken {
    pub(crate) supervisor: u64,
    pub(crate) child: u64,
}

/// Where a child is in its life, as seen by its supervisor.
///
/// # Examples
///
/// ```
/// use suture::ChildState;
///
/// assert_eq!(ChildState::BackedOff.to_string(), "backed off");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildState {
    /// Started, waiting for it to call [`Context::ready`](crate::Context::ready).
    Starting,
    /// Running.
    Running,
    /// Told to stop; waiting for it within its budget.
    Stopping,
    /// Waiting to be restarted (its group is being restarted).
    Restarting,
    /// Queued until the supervisor's backoff ends.
    BackedOff,
    /// Not running and not going to run unless its supervisor is served again.
    Stopped,
}

impl fmt::Display for ChildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChildState::Starting => "starting",
            ChildState::Running => "running",
            ChildState::Stopping => "stopping",
            ChildState::Restarting => "restarting",
            ChildState::BackedOff => "backed off",
            ChildState::Stopped => "stopped",
        })
    }
}

/// A snapshot of one child, from [`SupervisorHandle::children`].
///
/// # Examples
///
/// ```
/// use suture::{service_fn, ChildState, Context, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app").build().unwrap();
/// sup.add(service_fn("db", |ctx: Context| async move { ctx.cancelled().await; Ok(()) })).unwrap();
/// let handle = sup.handle();
/// let stop = CancellationToken::new();
/// let task = sup.serve_background(Context::new(stop.clone())).await;
/// let children = handle.children().await.unwrap();
/// assert_eq!(children[0].name, "db");
/// assert_eq!(children[0].state, ChildState::Running);
/// stop.cancel();
/// task.await.unwrap().unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its token.
    pub token: ChildToken,
    /// Its name.
    pub name: String,
    /// Its path in the tree.
    pub path: String,
    /// Its state.
    pub state: ChildState,
    /// Its restart type.
    pub restart: Restart,
    /// How many times it was restarted.
    pub restarts: u64,
    /// The last error or panic message it ended with.
    pub last_error: Option<String>,
    /// How long the current incarnation has run, if it is running.
    pub uptime: Option<Duration>,
    pub(crate) supervisor: Option<SupervisorHandle>,
}

impl ChildInfo {
    /// Whether the child is itself a supervisor.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let root = Supervisor::builder("app").build().unwrap();
    /// root.add(Supervisor::builder("workers").build().unwrap()).unwrap();
    /// let handle = root.handle();
    /// let stop = CancellationToken::new();
    /// let task = root.serve_background(Context::new(stop.clone())).await;
    /// assert!(handle.children().await.unwrap()[0].is_supervisor());
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn is_supervisor(&self) -> bool {
        self.supervisor.is_some()
    }
}

/// A live snapshot of a supervisor and its subtree, printable as a tree, from
/// [`SupervisorHandle::tree`]. The shape of what it prints:
///
/// ```text
/// app
/// ├── database [running, up 12s]
/// ├── cache [backed off, 3 restarts, last error: connection refused]
/// └── listeners [running, up 12s]
///     └── http [running, up 3s, 1 restart]
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TreeNode {
    /// The supervisor or child's name.
    pub name: String,
    /// Its path.
    pub path: String,
    /// Its state; `None` for the supervisor the snapshot was taken of.
    pub state: Option<ChildState>,
    /// How many times it was restarted.
    pub restarts: u64,
    /// The last error or panic message.
    pub last_error: Option<String>,
    /// How long it has run.
    pub uptime: Option<Duration>,
    /// Its children, in start order (empty for a leaf or a supervisor that is not running).
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let Some(state) = self.state else {
            return Ok(());
        };
        write!(f, " [{state}")?;
        if let Some(uptime) = self.uptime {
            write!(f, ", up {uptime:.1?}")?;
        }
        match self.restarts {
            0 => {}
            1 => f.write_str(", 1 restart")?,
            n => write!(f, ", {n} restarts")?,
        }
        if let Some(error) = &self.last_error {
            write!(f, ", last error: {error}")?;
        }
        f.write_str("]")
    }

    fn write_children(&self, f: &mut fmt::Formatter<'_>, prefix: &str) -> fmt::Result {
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            write!(f, "\n{prefix}{}", if last { "└── " } else { "├── " })?;
            child.describe(f)?;
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            child.write_children(f, &deeper)?;
        }
        Ok(())
    }

    /// Visits this node and every node below it, depth first.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::{service_fn, Context, Supervisor};
    /// use tokio_util::sync::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let root = Supervisor::builder("app").build().unwrap();
    /// root.add(service_fn("db", |ctx: Context| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .unwrap();
    /// let handle = root.handle();
    /// let stop = CancellationToken::new();
    /// let task = root.serve_background(Context::new(stop.clone())).await;
    /// let mut paths = Vec::new();
    /// handle.tree().await.unwrap().walk(&mut |node| paths.push(node.path.clone()));
    /// assert_eq!(paths, ["", "app/db"]);
    /// stop.cancel();
    /// task.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn walk(&self, visit: &mut impl FnMut(&TreeNode)) {
        visit(self);
        for child in &self.children {
            child.walk(visit);
        }
    }
}

impl fmt::Display for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)?;
        self.write_children(f, "")
    }
}

/// A child that did not finish even after its task was aborted (code blocking a thread),
/// from [`SupervisorHandle::unstopped_services`].
///
/// # Examples
///
/// ```
/// let sup = suture::Supervisor::builder("app").build().unwrap();
/// // Nothing ran, so nothing failed to stop.
/// assert!(sup.handle().unstopped_services().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnstoppedService {
    /// Its path in the tree.
    pub path: String,
    /// Its name.
    pub name: String,
    /// Its token in its supervisor.
    pub token: ChildToken,
}
