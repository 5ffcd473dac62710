//! A supervisor never dies of a child, and loses none: the defects an adversarial review found.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use suture::testing::{EventRecorder, Running, Scripted, Step};
use suture::{
    ChildSpec, ChildState, Context, EventKind, Service, ServiceResult, Shutdown, Strategy,
    Supervisor, SupervisorError,
};
use suture_tests::SECOND;

/// Its nested supervisor is aborted in the middle of stopping (its budget under the parent
/// runs out while a child of its own still stops slowly); restarted with its group, it comes
/// back with every child: the slow one, aborted with it, hands its service back.
#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_aborted_mid_stop_comes_back_with_all_its_children() {
    let inner = Supervisor::builder("inner")
        .shutdown(10 * SECOND)
        .build()
        .unwrap();
    let quick = Scripted::running("quick");
    let slow = Scripted::new("slow", [Step::StopSlowly(5 * SECOND)]);
    let (quick_probe, slow_probe) = (quick.probe(), slow.probe());
    inner.add(quick).unwrap();
    inner.add(slow).unwrap();
    let inner_handle = inner.handle();

    let root = Supervisor::builder("root")
        .strategy(Strategy::OneForAll)
        .build()
        .unwrap();
    root.add_with(inner, ChildSpec::new().shutdown(Shutdown::Timeout(SECOND)))
        .unwrap();
    root.add(Scripted::new("crasher", [Step::Fail, Step::Run]))
        .unwrap();
    let tree = Running::start(root).await;
    let begin = tokio::time::Instant::now();

    // The crash restarts the group; `inner` gets one second, `slow` needs five: `inner`
    // is aborted mid-stop and served again at once.
    quick_probe.wait_for_starts(2).await;
    assert_eq!(
        begin.elapsed(),
        SECOND,
        "`inner` was aborted after its one second"
    );
    slow_probe.wait_for_starts(2).await;
    assert_eq!(
        begin.elapsed(),
        SECOND,
        "`slow` was aborted with its supervisor"
    );
    let children = inner_handle.children().await.unwrap();
    let states: Vec<_> = children
        .iter()
        .map(|c| (c.name.as_str(), c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("quick", ChildState::Running),
            ("slow", ChildState::Running)
        ]
    );
    assert!(inner_handle.unstopped_services().is_empty());
    tree.shutdown().await.unwrap();
}

/// A service whose `Drop` panics.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        panic!("boom in drop");
    }
}

impl Service for DropBomb {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Service for Counted {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

/// Dropped without ever being served, a supervisor drops every child it was given (they wait
/// aside for a first serve), even past one whose `Drop` panics; its handle then refuses new
/// children rather than keeping them nowhere.
#[test]
fn an_unserved_supervisor_drops_all_its_children_past_a_panicking_drop() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let sup = Supervisor::builder("idle").build().unwrap();
    sup.add(Counted(dropped.clone())).unwrap();
    sup.add(DropBomb).unwrap();
    sup.add(Counted(dropped.clone())).unwrap();
    let handle = sup.handle();
    drop(sup);
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    assert!(matches!(
        handle.add(Counted(dropped.clone())),
        Err(SupervisorError::Finished { .. })
    ));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "the refused child is dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_panicking_in_its_drop_when_removed_is_reported_and_the_supervisor_carries_on() {
    let events = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(events.hook())
        .build()
        .unwrap();
    let bomb = sup.add(DropBomb).unwrap();
    let sibling = Scripted::running("sibling");
    let probe = sibling.probe();
    sup.add(sibling).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(1).await;

    handle.remove_and_wait(bomb, SECOND).await.unwrap();
    let event = events
        .wait_for(|e| matches!(e.kind, EventKind::DropPanicked { .. }))
        .await;
    let EventKind::DropPanicked {
        service, message, ..
    } = &event.kind
    else {
        unreachable!()
    };
    assert_eq!((&**service, message.as_str()), ("DropBomb", "boom in drop"));

    // The supervisor still answers, and its other child was never touched.
    assert!(handle.is_running());
    let children = handle.children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].state, ChildState::Running);
    assert_eq!((probe.starts(), probe.ends()), (1, 0));
    tree.shutdown().await.unwrap();
}

/// A request waiting on a nested supervisor (a child of its own still stopping) is answered
/// when its parent aborts it mid-stop: it does not hang until the supervisor is served again.
#[tokio::test(start_paused = true)]
async fn a_request_waiting_on_a_supervisor_aborted_mid_stop_is_answered() {
    let inner = Supervisor::builder("inner")
        .shutdown(100 * SECOND)
        .build()
        .unwrap();
    let slow = inner
        .add(Scripted::new("slow", [Step::StopSlowly(50 * SECOND)]))
        .unwrap();
    let inner_handle = inner.handle();
    let root = Supervisor::builder("root").build().unwrap();
    let inner_token = root
        .add_with(inner, ChildSpec::new().shutdown(Shutdown::Timeout(SECOND)))
        .unwrap();
    let tree = Running::start(root).await;

    let pending = tokio::spawn({
        let inner_handle = inner_handle.clone();
        async move { inner_handle.stop_child(slow).await }
    });
    suture::testing::settle().await;
    assert!(!pending.is_finished(), "`slow` takes 50 s to stop");
    let begin = tokio::time::Instant::now();
    // `inner` gets one second to stop, `slow` needs fifty: `inner` is aborted.
    tree.handle.stop_child(inner_token).await.unwrap();
    assert_eq!(begin.elapsed(), SECOND);
    let answer = tokio::time::timeout(SECOND, pending)
        .await
        .expect("answered when its supervisor was aborted")
        .unwrap();
    assert_eq!(
        answer,
        Err(SupervisorError::NotRunning {
            supervisor: "inner".into()
        })
    );
    tree.shutdown().await.unwrap();
}
