//! Ordered start-up (readiness), ordered shutdown with budgets, abort, and the unstopped report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use suture::testing::{EventRecorder, Journal, Running, Scripted, Step, Trigger, describe, settle};
use suture::{
    ChildSpec, ChildState, Context, EventKind, NotReady, Service, ServiceResult, Shutdown,
    ShutdownOrder, Supervisor, service_fn,
};
use suture_tests::{SECOND, row, states};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn ready_within(secs: u64) -> ChildSpec {
    ChildSpec::default().ready_within(Duration::from_secs(secs))
}

#[tokio::test(start_paused = true)]
async fn a_child_with_a_ready_timeout_delays_the_next_start_until_ready() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add_with(
        Scripted::new("db", [Step::ReadyAfter(3 * SECOND)]).journal(&journal),
        ready_within(10),
    )
    .unwrap();
    sup.add(Scripted::running("web").journal(&journal)).unwrap();
    let begin = Instant::now();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started web").await;
    assert_eq!(begin.elapsed(), 3 * SECOND);
    assert_eq!(journal.entries(), ["db started", "web started"]);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_ready_gated_child_keeps_the_next_waiting_through_its_restarts() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(10, Duration::from_secs(30))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add_with(
        Scripted::new("db", [Step::NeverReady, Step::FailBeforeReady, Step::Run]),
        ready_within(2),
    )
    .unwrap();
    sup.add(Scripted::running("web")).unwrap();
    let begin = Instant::now();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started web").await;
    assert_eq!(
        begin.elapsed(),
        2 * SECOND,
        "web waited for db's ready timeout, then for db's restarts"
    );
    // Missing the ready deadline is a failed start, handled by the policy; web starts only
    // once db has been ready (DESIGN, "Ordering").
    assert_eq!(
        recorder.lines(),
        [
            "app: started db",
            "app: db failed, restarting now",
            "app: started db",
            "app: db failed, restarting now",
            "app: started db",
            "app: started web",
        ]
    );
    let EventKind::Terminated { error, .. } = &recorder.events()[1].kind else {
        panic!("expected a termination")
    };
    assert_eq!(
        error.as_deref(),
        Some(NotReady(2 * SECOND).to_string().as_str())
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_is_in_reverse_start_order_one_child_at_a_time() {
    let journal = Journal::new();
    let sup = Supervisor::builder("app").build().unwrap();
    for name in ["a", "b", "c"] {
        sup.add(Scripted::new(name, [Step::StopSlowly(SECOND)]).journal(&journal))
            .unwrap();
    }
    let tree = Running::start(sup).await;
    suture::testing::settle().await;
    let begin = Instant::now();
    tree.shutdown().await.unwrap();
    assert_eq!(
        begin.elapsed(),
        3 * SECOND,
        "each child stops after the next"
    );
    assert_eq!(&journal.entries()[3..], ["c ended", "b ended", "a ended"]);
}

#[tokio::test(start_paused = true)]
async fn concurrent_shutdown_gives_every_child_its_budget_at_once() {
    let journal = Journal::new();
    let sup = Supervisor::builder("pool")
        .shutdown_order(ShutdownOrder::Concurrent)
        .build()
        .unwrap();
    for name in ["a", "b", "c"] {
        sup.add(Scripted::new(name, [Step::StopSlowly(SECOND)]).journal(&journal))
            .unwrap();
    }
    let tree = Running::start(sup).await;
    suture::testing::settle().await;
    let begin = Instant::now();
    tree.shutdown().await.unwrap();
    assert_eq!(begin.elapsed(), SECOND);
    assert_eq!(journal.entries().len(), 6);
}

#[tokio::test(start_paused = true)]
async fn a_child_ignoring_cancellation_is_aborted_after_its_budget() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let sup = Supervisor::builder("app")
        .shutdown(Duration::from_secs(10))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(Scripted::running("first").journal(&journal))
        .unwrap();
    sup.add_with(
        Scripted::new("stubborn", [Step::IgnoreCancel]).journal(&journal),
        ChildSpec::default().shutdown(Shutdown::Timeout(2 * SECOND)),
    )
    .unwrap();
    sup.add(Scripted::new("default", [Step::IgnoreCancel]).journal(&journal))
        .unwrap();
    sup.add_with(
        Scripted::new("abort", [Step::IgnoreCancel]).journal(&journal),
        ChildSpec::default().shutdown(Shutdown::Abort),
    )
    .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    suture::testing::settle().await;
    let begin = Instant::now();
    tree.shutdown().await.unwrap();
    // `abort` at once, `default` after the supervisor's 10 s, `stubborn` after its own 2 s.
    assert_eq!(begin.elapsed(), 12 * SECOND);
    assert_eq!(
        &journal.entries()[4..],
        [
            "abort ended",
            "default ended",
            "stubborn ended",
            "first ended"
        ]
    );
    let timeouts: Vec<String> = recorder
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::StopTimeout { .. }))
        .map(describe)
        .collect();
    assert_eq!(
        timeouts,
        ["app: default stop timeout", "app: stubborn stop timeout"],
        "an `abort` child is not late: it has no budget"
    );
    assert!(handle.unstopped_services().is_empty());
    assert!(handle.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_child_aborted_before_its_first_poll_is_stopped_not_lost() {
    let sup = Supervisor::builder("app").build().unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    // Added and removed in one go: the loop spawns it, then aborts it before the runtime
    // ever polls its task.
    let token = handle
        .add_with(
            Scripted::running("brief"),
            ChildSpec::default().shutdown(Shutdown::Abort),
        )
        .unwrap();
    let begin = Instant::now();
    handle.remove_and_wait(token, SECOND).await.unwrap();
    assert_eq!(
        begin.elapsed(),
        Duration::ZERO,
        "no grace period waited out"
    );
    assert!(handle.unstopped_services().is_empty());
    assert!(handle.children().await.unwrap().is_empty());
    tree.shutdown().await.unwrap();
}

/// A child that blocks its thread cannot be aborted: it is reported, with its path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_blocking_its_thread_is_reported_as_unstopped() {
    let (blocking, blocked) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let inner = Supervisor::builder("inner").build().unwrap();
    inner
        .add_with(
            service_fn("blocker", move |ctx: Context| {
                let blocking = blocking.clone();
                let released = released.clone();
                async move {
                    ctx.cancelled().await;
                    let _ = blocking.send(());
                    // Blocks this worker thread until the test releases it.
                    let _ = released.lock().unwrap().recv();
                    Ok(())
                }
            }),
            ChildSpec::default().shutdown(Shutdown::Timeout(Duration::from_millis(20))),
        )
        .unwrap();
    let inner_handle = inner.handle();
    let root = Supervisor::builder("root").build().unwrap();
    root.add(inner).unwrap();
    let root_handle = root.handle();
    let tree = Running::start(root).await;
    while root_handle
        .tree()
        .await
        .unwrap()
        .to_string()
        .matches("running")
        .count()
        < 2
    {
        tokio::task::yield_now().await;
    }
    let stopping = tokio::spawn(tree.shutdown());
    tokio::task::spawn_blocking(move || blocked.recv())
        .await
        .unwrap()
        .unwrap();
    stopping.await.unwrap().unwrap();

    let unstopped = inner_handle.unstopped_services();
    assert_eq!(unstopped.len(), 1, "{unstopped:?}");
    assert_eq!(unstopped[0].name, "blocker");
    assert_eq!(unstopped[0].path, "root/inner/blocker");
    let from_root = root_handle.unstopped_services();
    assert_eq!(
        from_root
            .iter()
            .map(|u| u.path.as_str())
            .collect::<Vec<_>>(),
        ["root/inner/blocker"],
        "the report is recursive"
    );
    release.send(()).unwrap();
}

/// Runs until told to stop; says when it is dropped.
struct Watched(Arc<AtomicBool>);

impl Service for Watched {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A tree given to `serve_background` is never served again: at its shutdown a child
/// supervisor's subtree is dropped once its run has ended, rather than with the whole tree
/// after the slowest child has stopped.
#[tokio::test(start_paused = true)]
async fn a_consumed_tree_lets_go_of_each_subtree_as_its_run_ends() {
    let dropped = Arc::new(AtomicBool::new(false));
    let inner = Supervisor::builder("inner").build().unwrap();
    inner.add(Watched(dropped.clone())).unwrap();
    let root = Supervisor::builder("app")
        .shutdown_order(ShutdownOrder::Concurrent)
        .build()
        .unwrap();
    let handle = root.handle();
    root.add(inner).unwrap();
    root.add(Scripted::new("slow", [Step::StopSlowly(10 * SECOND)]))
        .unwrap();
    let stop = CancellationToken::new();
    let task = root.serve_background(Context::new(stop.clone())).await;
    stop.cancel();
    tokio::time::sleep(5 * SECOND).await;
    assert!(!task.is_finished(), "`slow` is still stopping");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the inner tree's service went as its run ended"
    );
    task.await.unwrap().unwrap();
    assert!(handle.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_large_pool_stops_as_one_and_answers_while_it_does() {
    // Above the count from which the loop gathers ends before taking them: half the pool
    // ends at once, the other half a second later.
    let journal = Journal::new();
    let pool = Supervisor::builder("pool")
        .shutdown_order(ShutdownOrder::Concurrent)
        .build()
        .unwrap();
    let handle = pool.handle();
    for i in 0..600 {
        let step = if i % 2 == 0 {
            Step::Run
        } else {
            Step::StopSlowly(SECOND)
        };
        pool.add(Scripted::new(&format!("w{i}"), [step]).journal(&journal))
            .unwrap();
    }
    let stop = CancellationToken::new();
    let task = pool.serve_background(Context::new(stop.clone())).await;
    suture::testing::settle().await;
    let begin = Instant::now();
    stop.cancel();
    tokio::time::sleep(SECOND / 2).await;
    let states = handle.children().await.unwrap();
    let stopping = states
        .iter()
        .filter(|child| child.state == ChildState::Stopping)
        .count();
    assert_eq!(stopping, 300, "the slow half is still stopping: {states:?}");
    task.await.unwrap().unwrap();
    assert_eq!(begin.elapsed(), SECOND);
    let ended = journal
        .entries()
        .iter()
        .filter(|e| e.ends_with(" ended"))
        .count();
    assert_eq!(ended, 600);
}

/// A child before a ready-gated one does not depend on it: failing while that one is still
/// not ready, it restarts at once.
#[tokio::test(start_paused = true)]
async fn a_child_before_a_gated_one_restarts_at_once_while_that_one_starts() {
    let sup = Supervisor::builder("app").build().unwrap();
    let crash = Trigger::new();
    let db = Scripted::new("db", [Step::FailOn(crash.clone()), Step::Run]);
    let db_probe = db.probe();
    sup.add(db).unwrap();
    sup.add_with(
        Scripted::new("web", [Step::ReadyAfter(30 * SECOND)]),
        ChildSpec::new().ready_within(60 * SECOND),
    )
    .unwrap();
    let tree = tokio::spawn(Running::start(sup));
    db_probe.wait_for_starts(1).await;
    tokio::time::sleep(SECOND).await;
    let begin = tokio::time::Instant::now();
    crash.pull();
    db_probe.wait_for_starts(2).await;
    assert_eq!(
        begin.elapsed(),
        Duration::ZERO,
        "not held until `web` is ready"
    );
    tree.await.unwrap().shutdown().await.unwrap();
}

/// Once start-up is done, a ready-gated child's own restart holds no one: a sibling's
/// restart and a child added meanwhile start at once.
#[tokio::test(start_paused = true)]
async fn a_gated_childs_restart_after_start_up_holds_no_one() {
    let sup = Supervisor::builder("app").build().unwrap();
    let crash_db = Trigger::new();
    let db = Scripted::new("db", [Step::FailOn(crash_db.clone()), Step::Run]);
    let db_probe = db.probe();
    sup.add(db).unwrap();
    let crash_web = Trigger::new();
    let web = Scripted::new(
        "web",
        [
            Step::FailOn(crash_web.clone()),
            Step::ReadyAfter(30 * SECOND),
        ],
    );
    let web_probe = web.probe();
    sup.add_with(web, ChildSpec::new().ready_within(60 * SECOND))
        .unwrap();
    let tree = Running::start(sup).await;
    crash_web.pull();
    web_probe.wait_for_starts(2).await;
    crash_db.pull();
    let late = Scripted::running("late");
    let late_probe = late.probe();
    tree.handle.add(late).unwrap();
    settle().await;
    assert_eq!((db_probe.starts(), late_probe.starts()), (2, 1));
    assert_eq!(
        states(&tree.handle).await,
        [
            row("db", ChildState::Running, 1),
            row("web", ChildState::Starting, 1),
            row("late", ChildState::Running, 0)
        ]
    );
    tree.shutdown().await.unwrap();
}
