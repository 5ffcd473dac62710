//! Introspection: tokens, per-child snapshots, the printable tree, the unstopped report.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::error::SupervisorError;
use crate::health::Health;
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
    /// Its health: for a leaf, what its state says; for a supervisor, its subtree's.
    pub health: Health,
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
/// ├── database [running, up 12.0s]
/// ├── cache [backed off, 3 restarts, last error: connection refused]
/// └── listeners [running, up 12.0s]
///     └── http [running, up 3.0s, 1 restart]
/// ```
///
/// Names and error messages are printed with control characters escaped (a newline as `\n`),
/// as are line separators and bidirectional overrides, so that none can make up a line.
/// Printing (with `{}` or `{:?}`), [walking](Self::walk), cloning and dropping use no
/// recursion: a tree of any depth is fine on a small stack.
#[non_exhaustive]
pub struct TreeNode {
    /// The supervisor or child's name.
    pub name: String,
    /// Its path.
    pub path: String,
    /// Its state; `None` for the supervisor the snapshot was taken of.
    pub state: Option<ChildState>,
    /// Its health: for a leaf, what its state says; for a supervisor, its whole subtree's
    /// (printed when it says more than the state).
    pub health: Health,
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
    /// Writes the node's own line: its name, then its state and counters in brackets.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Escaped(&self.name))?;
        let Some(state) = self.state else {
            return write!(f, " [{}]", Escaped(&self.health.to_string()));
        };
        write!(f, " [{state}")?;
        if self.health != Health::of_state(state) {
            write!(f, ", {}", Escaped(&self.health.to_string()))?;
        }
        if let Some(uptime) = self.uptime {
            write!(f, ", up {uptime:.1?}")?;
        }
        match self.restarts {
            0 => {}
            1 => f.write_str(", 1 restart")?,
            n => write!(f, ", {n} restarts")?,
        }
        if let Some(error) = &self.last_error {
            write!(f, ", last error: {}", Escaped(error))?;
        }
        f.write_str("]")
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
        // One iterator per level being visited, not one stack frame: a chain may be deep.
        let mut levels = vec![self.children.iter()];
        while let Some(siblings) = levels.last_mut() {
            match siblings.next() {
                Some(child) => {
                    visit(child);
                    levels.push(child.children.iter());
                }
                None => {
                    levels.pop();
                }
            }
        }
    }
}

impl fmt::Display for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)?;
        // The prefix grows by one segment per level entered; each level keeps the prefix's
        // length before its segment, to cut back to when it is done.
        let mut prefix = String::new();
        let mut levels = vec![(self.children.iter(), 0)];
        while let Some((siblings, _)) = levels.last_mut() {
            let Some(child) = siblings.next() else {
                if let Some((_, len)) = levels.pop() {
                    prefix.truncate(len);
                }
                continue;
            };
            let last = siblings.len() == 0;
            let (branch, segment) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            write!(f, "\n{prefix}{branch}")?;
            child.describe(f)?;
            if !child.children.is_empty() {
                levels.push((child.children.iter(), prefix.len()));
                prefix.push_str(segment);
            }
        }
        Ok(())
    }
}

impl TreeNode {
    /// A copy of the node without its children (room is made for them).
    fn copy_alone(&self) -> TreeNode {
        TreeNode {
            name: self.name.clone(),
            path: self.path.clone(),
            state: self.state,
            health: self.health.clone(),
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            uptime: self.uptime,
            children: Vec::with_capacity(self.children.len()),
        }
    }

    /// Writes `TreeNode {`, the fields but the children, then `children: [`, as
    /// `#[derive(Debug)]` would; `indent` is the node's own indentation (pretty only).
    fn debug_head(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        let fields: [(&str, &dyn fmt::Debug); 7] = [
            ("name", &self.name),
            ("path", &self.path),
            ("state", &self.state),
            ("health", &self.health),
            ("restarts", &self.restarts),
            ("last_error", &self.last_error),
            ("uptime", &self.uptime),
        ];
        if f.alternate() {
            f.write_str("TreeNode {\n")?;
            for (name, value) in fields {
                write!(f, "{indent}    {name}: ")?;
                write!(Padded { f, indent }, "{value:#?}")?;
                f.write_str(",\n")?;
            }
            write!(f, "{indent}    children: [")
        } else {
            f.write_str("TreeNode { ")?;
            for (name, value) in fields {
                write!(f, "{name}: ")?;
                value.fmt(f)?;
                f.write_str(", ")?;
            }
            f.write_str("children: [")
        }
    }
}

/// Ends a node's `Debug` once its children are written; `nested`: it is in a list.
fn debug_close(f: &mut fmt::Formatter<'_>, indent: &str, nested: bool) -> fmt::Result {
    if !f.alternate() {
        return f.write_str(" }");
    }
    write!(f, ",\n{indent}}}")?;
    if nested {
        f.write_str(",")?;
    }
    Ok(())
}

/// Writes to a formatter, indenting every line after the first as a field of a node
/// indented by `indent`.
struct Padded<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    indent: &'a str,
}

impl fmt::Write for Padded<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut lines = s.split('\n');
        if let Some(first) = lines.next() {
            self.f.write_str(first)?;
        }
        for line in lines {
            write!(self.f, "\n{}    {line}", self.indent)?;
        }
        Ok(())
    }
}

impl fmt::Debug for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What `#[derive(Debug)]` prints, with a stack of open child lists instead of recursion.
        let pretty = f.alternate();
        // Pretty only: the indentation of the node being written (its fields go four deeper,
        // its children eight).
        let mut indent = String::new();
        // Per open list: the children still to write, and whether one was written.
        let mut levels: Vec<(std::slice::Iter<'_, TreeNode>, bool)> = Vec::new();
        let mut node = self;
        loop {
            node.debug_head(f, &indent)?;
            if node.children.is_empty() {
                f.write_str("]")?;
                debug_close(f, &indent, !levels.is_empty())?;
            } else {
                levels.push((node.children.iter(), false));
                indent.push_str(DEBUG_LEVEL);
            }
            // Close the lists (and their nodes) that are done, up to the next node to write.
            node = loop {
                let Some((siblings, started)) = levels.last_mut() else {
                    return Ok(());
                };
                if let Some(child) = siblings.next() {
                    if pretty {
                        write!(f, "\n{indent}")?;
                    } else if *started {
                        f.write_str(", ")?;
                    }
                    *started = true;
                    break child;
                }
                levels.pop();
                indent.truncate(indent.len().saturating_sub(DEBUG_LEVEL.len()));
                if pretty {
                    write!(f, "\n{indent}    ]")?;
                } else {
                    f.write_str("]")?;
                }
                debug_close(f, &indent, !levels.is_empty())?;
            };
        }
    }
}

/// How much deeper a child's `Debug` is indented than its parent's (a field, then a list).
const DEBUG_LEVEL: &str = "        ";

impl Clone for TreeNode {
    fn clone(&self) -> Self {
        // Each node is copied alone into a flat list, parents first, then put together.
        let mut below = Vec::new();
        let mut levels = vec![(self.children.iter(), None)];
        while let Some((siblings, parent)) = levels.last_mut() {
            let parent = *parent;
            match siblings.next() {
                Some(child) => {
                    below.push((child.copy_alone(), parent));
                    levels.push((child.children.iter(), Some(below.len() - 1)));
                }
                None => {
                    levels.pop();
                }
            }
        }
        assemble(self.copy_alone(), below)
    }
}

impl Drop for TreeNode {
    fn drop(&mut self) {
        // Each node is emptied of its children before it drops, so no drop recurses.
        let mut pending = std::mem::take(&mut self.children);
        while let Some(mut node) = pending.pop() {
            pending.append(&mut node.children);
        }
    }
}

/// A name or message as printed in the tree: control characters (and line separators and
/// bidirectional overrides) escaped, so that none can start a line or disguise one.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            f.write_str(&rest[..at])?;
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{}", c.escape_unicode())?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Control characters (`\n`, `\r`, ESC, NEL…), the Unicode line and paragraph separators, and
/// the bidirectional formatting characters (which can reorder what a line shows).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A live snapshot of `root`'s subtree, as [`SupervisorHandle::tree`] returns it.
///
/// Walks the tree with a work list rather than recursion, asking each supervisor for its
/// children once: the nodes go into a flat list, each knowing its parent's index, and are put
/// together bottom-up at the end. Only `root`'s own error is returned; a child supervisor
/// that does not answer (not running) shows no children.
pub(crate) async fn snapshot(root: &SupervisorHandle) -> Result<TreeNode, SupervisorError> {
    let children = root.children().await?;
    // Every node below the root, with its parent's index here (`None`: the root).
    let mut below: Vec<(TreeNode, Option<usize>)> = Vec::new();
    // Supervisors still to ask, with their node's index; the last is asked first, so each
    // batch is pushed in reverse to ask in start order, depth first, as a recursion would.
    let mut pending: Vec<(usize, SupervisorHandle)> = Vec::new();
    let mut batch = Some((None, children));
    while let Some((parent, children)) = batch.take() {
        let (first, asked) = (below.len(), pending.len());
        for (i, child) in children.into_iter().enumerate() {
            if let Some(sup) = child.supervisor {
                pending.push((first + i, sup));
            }
            below.push((
                TreeNode {
                    name: child.name,
                    path: child.path,
                    state: Some(child.state),
                    health: child.health,
                    restarts: child.restarts,
                    last_error: child.last_error,
                    uptime: child.uptime,
                    children: Vec::new(),
                },
                parent,
            ));
        }
        pending[asked..].reverse();
        while let Some((index, sup)) = pending.pop() {
            // A supervisor that is not running shows no children.
            if let Ok(children) = sup.children().await {
                batch = Some((Some(index), children));
                break;
            }
        }
    }
    let root = TreeNode {
        name: root.name().to_owned(),
        path: String::new(),
        state: None,
        health: root.health(),
        restarts: 0,
        last_error: None,
        uptime: None,
        children: Vec::new(),
    };
    Ok(assemble(root, below))
}

/// Puts together a tree listed flat: `below` holds every node under `root`, each with its
/// parent's index in `below` (`None` for `root`), parents before their children, siblings in
/// order.
fn assemble(mut root: TreeNode, mut below: Vec<(TreeNode, Option<usize>)>) -> TreeNode {
    // From the end, a node's children (all listed after it) are already in place when it is
    // reached, in reverse.
    while let Some((mut node, parent)) = below.pop() {
        node.children.reverse();
        match parent {
            Some(i) => below[i].0.children.push(node),
            None => root.children.push(node),
        }
    }
    root.children.reverse();
    root
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

#[cfg(test)]
mod tests {
    use std::fmt::{self, Write as _};
    use std::time::Duration;

    use super::{ChildState, Health, TreeNode};

    /// A worker thread's stack, as tokio and `std::thread` give by default.
    const STACK: usize = 2 << 20;

    fn node(name: &str, state: Option<ChildState>, children: Vec<TreeNode>) -> TreeNode {
        TreeNode {
            name: name.to_owned(),
            path: String::new(),
            health: state.map_or(Health::Healthy, Health::of_state),
            state,
            restarts: 0,
            last_error: None,
            uptime: None,
            children,
        }
    }

    /// `depth` nodes, each the only child of the one above; the deepest is named `leaf`.
    fn chain(depth: usize) -> TreeNode {
        let mut below = node("leaf", Some(ChildState::Running), Vec::new());
        for _ in 2..depth {
            below = node("n", Some(ChildState::Running), vec![below]);
        }
        node("n", None, vec![below])
    }

    /// Counts what is written (the lines only if asked: a scan of all that is written),
    /// keeping only the last bytes.
    #[derive(Default)]
    struct Sink {
        bytes: usize,
        lines: Option<usize>,
        tail: Vec<u8>,
    }

    impl fmt::Write for Sink {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            const KEEP: usize = 32;
            self.bytes += s.len();
            if let Some(lines) = &mut self.lines {
                *lines += s.matches('\n').count();
            }
            let s = &s.as_bytes()[s.len().saturating_sub(KEEP)..];
            self.tail.extend_from_slice(s);
            let excess = self.tail.len().saturating_sub(KEEP);
            self.tail.drain(..excess);
            Ok(())
        }
    }

    fn on_small_stack(test: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(test)
            .unwrap()
            .join()
            .unwrap();
    }

    fn small_tree() -> TreeNode {
        let mut database = node("database", Some(ChildState::Running), Vec::new());
        database.uptime = Some(Duration::from_secs(12));
        let mut cache = node("cache", Some(ChildState::BackedOff), Vec::new());
        cache.restarts = 3;
        cache.last_error = Some("connection refused".to_owned());
        let conn = node("conn", Some(ChildState::Starting), Vec::new());
        let mut http = node("http", Some(ChildState::Running), vec![conn]);
        http.uptime = Some(Duration::from_secs(3));
        let grpc = node("grpc", Some(ChildState::Stopped), Vec::new());
        let mut listeners = node("listeners", Some(ChildState::Running), vec![http, grpc]);
        listeners.uptime = Some(Duration::from_secs(12));
        listeners.restarts = 1;
        listeners.health = Health::Degraded {
            unhealthy: vec!["app/listeners/http/conn".into()],
        };
        let empty = node("empty", Some(ChildState::Restarting), Vec::new());
        node("app", None, vec![database, cache, listeners, empty])
    }

    #[test]
    fn a_small_tree_prints_exactly() {
        assert_eq!(
            small_tree().to_string(),
            "app [healthy]\n\
             ├── database [running, up 12.0s]\n\
             ├── cache [backed off, 3 restarts, last error: connection refused]\n\
             ├── listeners [running, degraded (not running: app/listeners/http/conn), \
             up 12.0s, 1 restart]\n\
             │   ├── http [running, up 3.0s]\n\
             │   │   └── conn [starting]\n\
             │   └── grpc [stopped]\n\
             └── empty [restarting]"
        );
        assert_eq!(
            node("alone", None, Vec::new()).to_string(),
            "alone [healthy]"
        );
    }

    #[test]
    fn names_and_errors_cannot_forge_lines() {
        let mut forged = node(
            "db\n├── fake [running]",
            Some(ChildState::Running),
            Vec::new(),
        );
        forged.last_error = Some("line 1\r\nline 2\t\u{1b}[31mred\u{0}".to_owned());
        let sneaky = node(
            "a\u{2028}b\u{202e}c\u{85}",
            Some(ChildState::Stopped),
            Vec::new(),
        );
        let root = node("app\n", None, vec![forged, sneaky]);
        let printed = root.to_string();
        assert_eq!(
            printed,
            "app\\n [healthy]\n\
             ├── db\\n├── fake [running] [running, last error: \
             line 1\\r\\nline 2\\t\\u{1b}[31mred\\0]\n\
             └── a\\u{2028}b\\u{202e}c\\u{85} [stopped]"
        );
        assert_eq!(printed.lines().count(), 3);
        // Anything else prints as it is.
        let plain = node("café ✓ \"q\" \\ 名前", None, Vec::new());
        assert_eq!(plain.to_string(), "café ✓ \"q\" \\ 名前 [healthy]");
    }

    #[test]
    fn walk_visits_depth_first_in_order() {
        let b = node(
            "b",
            Some(ChildState::Running),
            vec![node("c", None, Vec::new())],
        );
        let root = node("a", None, vec![b, node("d", None, Vec::new())]);
        let mut names = Vec::new();
        root.walk(&mut |n| names.push(n.name.clone()));
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_deep_chain_is_walked_printed_cloned_and_dropped_on_a_small_stack() {
        const DEPTH: usize = 100_000;
        on_small_stack(|| {
            let tree = chain(DEPTH);
            let mut visited = 0;
            let mut deepest = String::new();
            tree.walk(&mut |n| {
                visited += 1;
                deepest.clone_from(&n.name);
            });
            assert_eq!((visited, deepest.as_str()), (DEPTH, "leaf"));

            let mut sink = Sink {
                lines: Some(0),
                ..Sink::default()
            };
            write!(sink, "{tree}").unwrap();
            // The root's line, then one line per level, indented four columns more each.
            let line = |depth: usize| "\n".len() + 4 * (depth - 1) + "└── ".len();
            let expected: usize = "n [healthy]".len()
                + (1..DEPTH - 1)
                    .map(|d| line(d) + "n [running]".len())
                    .sum::<usize>()
                + line(DEPTH - 1)
                + "leaf [running]".len();
            assert_eq!((sink.bytes, sink.lines), (expected, Some(DEPTH - 1)));
            assert!(sink.tail.ends_with("    └── leaf [running]".as_bytes()));

            let copy = tree.clone();
            let mut visited = 0;
            copy.walk(&mut |_| visited += 1);
            assert_eq!(visited, DEPTH);
            drop(copy);

            let mut plain = Sink::default();
            write!(plain, "{tree:?}").unwrap();
            assert!(plain.tail.ends_with(b"] }] }] }"));
            let mut pretty = Sink::default();
            write!(pretty, "{tree:#?}").unwrap();
            assert!(pretty.tail.ends_with(b"    ],\n}"));
            assert!(pretty.bytes > plain.bytes);

            drop(tree);
        });
    }

    /// `TreeNode` with `#[derive(Debug)]`, to compare with.
    mod derived {
        use std::time::Duration;

        use crate::ChildState;

        #[derive(Debug)]
        #[allow(dead_code)] // read by `Debug` only
        pub(super) struct TreeNode {
            name: String,
            path: String,
            state: Option<ChildState>,
            health: crate::Health,
            restarts: u64,
            last_error: Option<String>,
            uptime: Option<Duration>,
            children: Vec<TreeNode>,
        }

        impl From<&super::TreeNode> for TreeNode {
            fn from(node: &super::TreeNode) -> Self {
                TreeNode {
                    name: node.name.clone(),
                    path: node.path.clone(),
                    state: node.state,
                    health: node.health.clone(),
                    restarts: node.restarts,
                    last_error: node.last_error.clone(),
                    uptime: node.uptime,
                    children: node.children.iter().map(Into::into).collect(),
                }
            }
        }
    }

    #[test]
    fn debug_prints_what_derive_would() {
        let mut tree = small_tree();
        tree.path = "a \"quoted\"\npath".to_owned();
        tree.children[2].children[0].last_error = Some("multi\nline".to_owned());
        let lone = node("alone", None, Vec::new());
        for tree in [tree, lone] {
            let derived = derived::TreeNode::from(&tree);
            assert_eq!(format!("{tree:?}"), format!("{derived:?}"));
            assert_eq!(format!("{tree:#?}"), format!("{derived:#?}"));
        }
    }

    #[test]
    fn a_clone_is_the_same_tree() {
        let tree = small_tree();
        let copy = tree.clone();
        assert_eq!(format!("{copy:#?}"), format!("{tree:#?}"));
        let leaf = node("leaf", None, Vec::new());
        assert_eq!(format!("{:?}", leaf.clone()), format!("{leaf:?}"));
    }
}
