//! Dynamic children through the handle, and introspection: children, tree, paths.

use std::time::Duration;

use suture::testing::{EventRecorder, Running, Scripted, Step, Trigger, describe};
use suture::{ChildState, Context, Restart, Supervisor, SupervisorError, service_fn};
use suture_tests::{SECOND, idle};

#[tokio::test(start_paused = true)]
async fn remove_returns_at_once_and_remove_and_wait_waits_for_the_stop() {
    let sup = Supervisor::builder("app").build().unwrap();
    let slow = Scripted::new("slow", [Step::StopSlowly(3 * SECOND)]);
    let probe = slow.probe();
    let token = sup.add(slow).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(1).await;

    let begin = tokio::time::Instant::now();
    handle.remove(token).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert!(probe.is_running(), "remove does not wait for the stop");
    assert!(handle.children().await.unwrap().is_empty());
    probe.wait_for_ends(1).await;
    assert_eq!(begin.elapsed(), 3 * SECOND);

    let slow = Scripted::new("slow", [Step::StopSlowly(3 * SECOND)]);
    let probe = slow.probe();
    let token = handle.add(slow).unwrap();
    probe.wait_for_starts(1).await;
    let begin = tokio::time::Instant::now();
    handle.remove_and_wait(token, 10 * SECOND).await.unwrap();
    assert_eq!(begin.elapsed(), 3 * SECOND);
    assert!(!probe.is_running());
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn remove_and_wait_times_out_with_a_typed_error_and_the_child_is_still_stopped() {
    let sup = Supervisor::builder("app").build().unwrap();
    let slow = Scripted::new("slow", [Step::StopSlowly(5 * SECOND)]);
    let probe = slow.probe();
    let token = sup.add(slow).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(1).await;
    let error = handle.remove_and_wait(token, SECOND).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::WaitElapsed(d) if d == SECOND),
        "{error}"
    );
    probe.wait_for_ends(1).await;
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn children_added_while_running_start_at_once_and_stop_in_reverse() {
    let journal = suture::testing::Journal::new();
    let sup = Supervisor::builder("app").build().unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    for name in ["a", "b", "c"] {
        let svc = Scripted::running(name).journal(&journal);
        let probe = svc.probe();
        handle.add(svc).unwrap();
        probe.wait_for_starts(1).await;
    }
    tree.shutdown().await.unwrap();
    assert_eq!(
        journal.entries(),
        [
            "a started",
            "b started",
            "c started",
            "c ended",
            "b ended",
            "a ended"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn children_report_state_restarts_last_error_and_uptime() {
    let (recorder, crash) = (EventRecorder::new(), Trigger::new());
    let inner = Supervisor::builder("inner").build().unwrap();
    inner
        .add(Scripted::new(
            "worker",
            [Step::FailOn(crash.clone()), Step::Run],
        ))
        .unwrap();
    let root = Supervisor::builder("root")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(inner).unwrap();
    root.add_with(
        Scripted::new("once", [Step::Return]),
        suture::ChildSpec::default().restart(Restart::Transient),
    )
    .unwrap();
    let handle = root.handle();
    let tree = Running::start(root).await;
    recorder
        .wait_for_line("root: once returned, no restart")
        .await;
    tokio::time::sleep(5 * SECOND).await;
    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "root/inner: started worker")
        .await;
    tokio::time::sleep(2 * SECOND).await;

    let children = handle.children().await.unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].name, "inner");
    assert_eq!(children[0].path, "root/inner");
    assert!(children[0].is_supervisor());
    assert_eq!(children[0].state, ChildState::Running);
    assert_eq!(children[1].name, "once");
    assert_eq!(children[1].state, ChildState::Stopped);
    assert_eq!(children[1].restart, Restart::Transient);

    let tree_now = handle.tree().await.unwrap();
    let worker = &tree_now.children[0].children[0];
    assert_eq!(worker.path, "root/inner/worker");
    assert_eq!(worker.restarts, 1);
    assert_eq!(worker.last_error.as_deref(), Some("scripted failure"));
    assert_eq!(worker.uptime, Some(2 * SECOND));
    let printed = tree_now.to_string();
    assert!(printed.starts_with("root [healthy]\n"), "{printed}");
    assert!(printed.contains("worker"), "{printed}");
    assert!(printed.contains("scripted failure"), "{printed}");
    let mut paths = Vec::new();
    tree_now.walk(&mut |node| paths.push(node.path.clone()));
    assert_eq!(paths, ["", "root/inner", "root/inner/worker", "root/once"]);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_service_sees_its_path_in_its_context() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let inner = Supervisor::builder("listeners").build().unwrap();
    inner
        .add(service_fn("http", move |ctx: Context| {
            let _ = tx.send(ctx.path().to_owned());
            async move {
                ctx.cancelled().await;
                Ok(())
            }
        }))
        .unwrap();
    let root = Supervisor::builder("app").build().unwrap();
    root.add(inner).unwrap();
    let tree = Running::start(root).await;
    assert_eq!(rx.recv().await.unwrap(), "app/listeners/http");
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_large_dynamic_set_stops_concurrently() {
    let sup = Supervisor::builder("pool")
        .shutdown_order(suture::ShutdownOrder::Concurrent)
        .build()
        .unwrap();
    let mut probes = Vec::new();
    for i in 0..1000 {
        let svc = Scripted::new(&format!("w{i}"), [Step::StopSlowly(SECOND)]);
        probes.push(svc.probe());
        sup.add(svc).unwrap();
    }
    let tree = Running::start(sup).await;
    probes.last().unwrap().wait_for_starts(1).await;
    let begin = tokio::time::Instant::now();
    tree.shutdown().await.unwrap();
    assert_eq!(begin.elapsed(), SECOND);
    assert!(probes.iter().all(|p| p.ends() == 1));
}

#[tokio::test(start_paused = true)]
async fn siblings_sharing_a_name_get_the_lowest_free_suffix_so_every_path_names_one_child() {
    let sup = Supervisor::builder("app").build().unwrap();
    let first = sup.add(idle("dup")).unwrap();
    let second = sup.add(idle("dup")).unwrap();
    sup.add(idle("dup")).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;

    let names =
        |children: Vec<suture::ChildInfo>| children.into_iter().map(|c| c.path).collect::<Vec<_>>();
    let paths = names(handle.children().await.unwrap());
    assert_eq!(paths, ["app/dup", "app/dup#2", "app/dup#3"]);

    // A name given back is the lowest free one, and is taken again before a new suffix.
    handle.remove_and_wait(second, SECOND).await.unwrap();
    handle.remove_and_wait(first, SECOND).await.unwrap();
    handle.add(idle("dup")).unwrap();
    handle.add(idle("dup")).unwrap();
    handle.add(idle("dup")).unwrap();
    let mut paths = names(handle.children().await.unwrap());
    paths.sort();
    assert_eq!(paths, ["app/dup", "app/dup#2", "app/dup#3", "app/dup#4"]);
    tree.shutdown().await.unwrap();
}

#[test]
fn a_name_with_the_suffix_mark_is_refused() {
    let sup = Supervisor::builder("app").build().unwrap();
    let job = service_fn("job#2", |_ctx| async { Ok(()) });
    let error = sup.add(job).unwrap_err();
    assert!(
        matches!(
            error,
            SupervisorError::InvalidSpec(suture::SpecError::InvalidName { .. })
        ),
        "{error}"
    );
    let error = Supervisor::builder("a#b").build().unwrap_err();
    assert_eq!(error.field(), "name");
}
