//! Trees as deep as they come: a chain of 10,000 nested supervisors is served, snapshotted,
//! walked, printed and taken apart on a 2 MiB stack (a tokio worker's and a spawned thread's
//! default), so nothing on the way may recurse once per level; stopped whole, for now only at
//! a lower depth (see `a_deep_chain_of_supervisors_stops_on_a_small_stack`). And the snapshot
//! keeps the start order of siblings however deep they are.

use std::future::Future;
use std::time::Duration;

use suture::testing::{Running, Scripted, Step, settle};
use suture::{
    AutoShutdown, ChildSpec, ChildToken, Restart, Supervisor, SupervisorHandle, TreeNode,
};

/// A worker thread's stack, as tokio and `std::thread` give by default.
const STACK: usize = 2 << 20;

/// Runs `test` on a current-thread runtime with a paused clock, on a thread with `STACK`:
/// every task of the tree runs on that one small stack.
fn on_small_stack<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap()
                .block_on(test());
        })
        .unwrap()
        .join()
        .unwrap();
}

/// The nodes from `tree` down its first children, `tree` first.
fn spine(tree: &TreeNode) -> Vec<&TreeNode> {
    let mut nodes = vec![tree];
    while let Some(child) = nodes[nodes.len() - 1].children.first() {
        nodes.push(child);
    }
    nodes
}

/// A served chain of supervisors named `s`, the deepest with one service, `leaf`.
struct Chain {
    running: Running,
    /// Every supervisor's handle, the deepest first, the root last.
    handles: Vec<SupervisorHandle>,
    /// `tokens[i]`: the token of `handles[i]` in its parent, `handles[i + 1]`.
    tokens: Vec<ChildToken>,
}

/// Serves a chain of `depth` supervisors; returns once all run.
async fn serve_chain(depth: usize) -> Chain {
    // Built from the bottom up, each added to the one above before anything is served.
    // One-letter names: every path spells out the chain above it.
    let mut below = Supervisor::builder("s").build().unwrap();
    below.add(Scripted::running("leaf")).unwrap();
    let mut handles = vec![below.handle()];
    let mut tokens = Vec::with_capacity(depth);
    for _ in 1..depth {
        let sup = Supervisor::builder("s").build().unwrap();
        tokens.push(sup.add(below).unwrap());
        handles.push(sup.handle());
        below = sup;
    }
    let running = Running::start(below).await;
    // Each supervisor starts the next on its own task.
    while !handles[0].is_running() {
        settle().await;
    }
    Chain {
        running,
        handles,
        tokens,
    }
}

/// Snapshots, walks and prints the chain `serve_chain(depth)` served, then drops it all.
async fn snapshot_chain(root: &SupervisorHandle, depth: usize) {
    let tree = root.tree().await.unwrap();
    let nodes = spine(&tree);
    assert_eq!(
        nodes.len(),
        depth + 1,
        "one node per supervisor, and the leaf"
    );
    assert!(nodes.iter().all(|n| n.children.len() <= 1));
    let leaf = nodes[depth];
    assert_eq!(leaf.name, "leaf");
    assert_eq!(leaf.path, format!("{}/leaf", vec!["s"; depth].join("/")));
    assert!(leaf.children.is_empty());
    let mut visited = 0;
    tree.walk(&mut |_| visited += 1);
    assert_eq!(visited, depth + 1);

    let printed = tree.to_string();
    assert_eq!(printed.lines().count(), depth + 1);
    let last = printed.lines().last().unwrap();
    let indent = " ".repeat(4 * (depth - 1));
    assert!(
        last.starts_with(&format!("{indent}└── leaf [running")),
        "{}",
        &last[last.len().saturating_sub(40)..]
    );
    drop(printed);
    drop(nodes);
    drop(tree);
}

#[test]
fn a_chain_of_ten_thousand_supervisors_snapshots_and_prints_on_a_small_stack() {
    const DEPTH: usize = 10_000;
    on_small_stack(|| async {
        let chain = serve_chain(DEPTH).await;
        let root = chain.running.handle.clone();
        snapshot_chain(&root, DEPTH).await;
        // Taken apart from the bottom up before the root stops: stopped whole, the chain would
        // be handed back up to the root `Supervisor`, whose drop recurses once per level (see
        // `a_deep_chain_of_supervisors_stops_on_a_small_stack`). Dropping the runtime with the
        // chain running overflows as well: each supervisor's `EventSink` holds its parent's, and
        // the last one released drops all those above it, one level per call.
        for (token, parent) in chain.tokens.iter().zip(&chain.handles[1..]) {
            parent
                .remove_and_wait(*token, Duration::from_secs(1))
                .await
                .unwrap();
        }
        assert!(chain.handles[..DEPTH - 1].iter().all(|h| h.is_finished()));
        chain.running.shutdown().await.unwrap();
        assert!(root.is_finished());
    });
}

/// A served chain stops and is dropped on a small stack.
///
/// Only at `DEPTH` for now: once stopped, every supervisor is back in its parent's
/// bookkeeping, and the root `Supervisor`, dropped at the end of its task, drops that chain
/// one level per recursive call (`Supervisor` -> `BTreeMap<u64, Box<Child>>` -> `Child::service`
/// -> `Holder<Supervisor>` -> `Supervisor`, 15 frames a level in a debug build): a chain of
/// about 2,000 overflows 2 MiB. Raise `DEPTH` to 10,000 when that drop no longer recurses.
#[test]
fn a_deep_chain_of_supervisors_stops_on_a_small_stack() {
    const DEPTH: usize = 1_000;
    on_small_stack(|| async {
        let chain = serve_chain(DEPTH).await;
        let root = chain.running.handle.clone();
        snapshot_chain(&root, DEPTH).await;
        chain.running.shutdown().await.unwrap();
        assert!(chain.handles.iter().all(|h| h.is_finished()));
    });
}

#[test]
fn the_snapshot_keeps_start_order_and_shows_a_stopped_supervisor_empty() {
    on_small_stack(|| async {
        let y = Supervisor::builder("y").build().unwrap();
        y.add(Scripted::running("z")).unwrap();
        let a = Supervisor::builder("a").build().unwrap();
        a.add(Scripted::running("x")).unwrap();
        a.add(y).unwrap();
        // Ends as soon as its job has, and is not restarted: stopped, with a child still.
        let done = Supervisor::builder("done")
            .auto_shutdown(AutoShutdown::AnySignificant)
            .build()
            .unwrap();
        let job = ChildSpec::new()
            .restart(Restart::Transient)
            .significant(true);
        done.add_with(Scripted::new("job", [Step::Return]), job)
            .unwrap();
        let root = Supervisor::builder("root").build().unwrap();
        root.add(a).unwrap();
        root.add(Scripted::running("b")).unwrap();
        root.add_with(done, ChildSpec::new().restart(Restart::Transient))
            .unwrap();
        root.add(Supervisor::builder("empty").build().unwrap())
            .unwrap();
        let handle = root.handle();
        let running = Running::start(root).await;
        settle().await;

        let tree = handle.tree().await.unwrap();
        let mut paths = Vec::new();
        tree.walk(&mut |node| paths.push(node.path.clone()));
        assert_eq!(
            paths,
            [
                "",
                "root/a",
                "root/a/x",
                "root/a/y",
                "root/a/y/z",
                "root/b",
                "root/done",
                "root/empty",
            ]
        );
        assert_eq!(tree.name, "root");
        assert_eq!(tree.state, None);
        let printed = tree.to_string();
        let shape: Vec<&str> = printed
            .lines()
            .map(|line| line.split(" [").next().unwrap())
            .collect();
        assert_eq!(
            shape,
            [
                "root",
                "├── a",
                "│   ├── x",
                "│   └── y",
                "│       └── z",
                "├── b",
                "├── done",
                "└── empty",
            ],
            "{printed}"
        );
        assert!(printed.contains("done [stopped"), "{printed}");
        running.shutdown().await.unwrap();
    });
}
