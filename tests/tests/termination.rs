//! How a tree ends by itself: `TerminateTree`, propagation, significant children and
//! auto-shutdown, and pass-through panics.

use std::future::Ready;
use std::time::Duration;

use suture::testing::{EventRecorder, Journal, Running, Scripted, Step, Trigger, describe};
use suture::{
    AutoShutdown, ChildSpec, Context, OnExceeded, Restart, ServiceResult, Supervisor, service_fn,
};

#[tokio::test(start_paused = true)]
async fn terminate_tree_stops_every_level_up_to_the_root() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let inner = Supervisor::builder("inner").build().unwrap();
    inner
        .add(Scripted::running("sibling").journal(&journal))
        .unwrap();
    inner
        .add(Scripted::new("quitter", [Step::TerminateTree]).journal(&journal))
        .unwrap();
    let root = Supervisor::builder("root")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(Scripted::running("first").journal(&journal))
        .unwrap();
    root.add(inner).unwrap();
    let error = Running::start(root).await.join().await.unwrap_err();
    assert!(error.is_terminate_tree(), "{error}");
    assert_eq!(
        journal.entries(),
        [
            "first started",
            "sibling started",
            "quitter started",
            "quitter ended",
            "sibling ended",
            "first ended"
        ]
    );
    let terminations: Vec<String> = recorder
        .lines()
        .into_iter()
        .filter(|l| l.contains("terminated the tree"))
        .collect();
    assert_eq!(
        terminations,
        [
            "root/inner: quitter terminated the tree",
            "root: inner terminated the tree"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_not_propagating_termination_is_dropped_by_its_parent() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let inner = Supervisor::builder("inner")
        .propagate_termination(false)
        .build()
        .unwrap();
    inner
        .add(Scripted::new("quitter", [Step::TerminateTree]).journal(&journal))
        .unwrap();
    let inner_handle = inner.handle();
    let root = Supervisor::builder("root")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(inner).unwrap();
    root.add(Scripted::running("other").journal(&journal))
        .unwrap();
    let root_handle = root.handle();
    let tree = Running::start(root).await;
    recorder
        .wait_for_line("root: inner returned, no restart")
        .await;
    assert!(inner_handle.is_finished());
    let names: Vec<String> = root_handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["other"], "the root goes on without `inner`");
    tree.shutdown().await.unwrap();
}

fn significant(restart: Restart) -> ChildSpec {
    ChildSpec::default().restart(restart).significant(true)
}

#[tokio::test(start_paused = true)]
async fn any_significant_child_ending_shuts_the_supervisor_down() {
    let (done, journal) = (Trigger::new(), Journal::new());
    let sup = Supervisor::builder("app")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .build()
        .unwrap();
    sup.add(Scripted::running("helper").journal(&journal))
        .unwrap();
    sup.add_with(
        Scripted::new("main", [Step::ReturnOn(done.clone())]).journal(&journal),
        significant(Restart::Transient),
    )
    .unwrap();
    sup.add_with(
        Scripted::running("other").journal(&journal),
        significant(Restart::Temporary),
    )
    .unwrap();
    let tree = Running::start(sup).await;
    done.pull();
    tree.join().await.unwrap();
    assert_eq!(
        &journal.entries()[3..],
        ["main ended", "other ended", "helper ended"]
    );
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_significant_child() {
    let (first, second) = (Trigger::new(), Trigger::new());
    let sup = Supervisor::builder("app")
        .auto_shutdown(AutoShutdown::AllSignificant)
        .build()
        .unwrap();
    sup.add(Scripted::running("helper")).unwrap();
    let a = Scripted::new("a", [Step::ReturnOn(first.clone())]);
    let a_probe = a.probe();
    sup.add_with(a, significant(Restart::Transient)).unwrap();
    sup.add_with(
        Scripted::new("b", [Step::ReturnOn(second.clone())]),
        significant(Restart::Temporary),
    )
    .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    first.pull();
    a_probe.wait_for_ends(1).await;
    suture::testing::settle().await;
    assert!(handle.is_running(), "b is still running");
    second.pull();
    tree.join().await.unwrap();
    assert!(handle.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_significant_child_that_fails_is_restarted_not_counted_as_ended() {
    let recorder = EventRecorder::new();
    let done = Trigger::new();
    let sup = Supervisor::builder("app")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .intensity(10, Duration::from_secs(30))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add_with(
        Scripted::new("main", [Step::Fail, Step::ReturnOn(done.clone())]),
        significant(Restart::Transient),
    )
    .unwrap();
    let tree = Running::start(sup).await;
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started main")
        .await;
    assert!(!tree.is_finished());
    done.pull();
    tree.join().await.unwrap();
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "scripted panic")]
async fn pass_through_panics_reach_the_caller() {
    let sup = Supervisor::builder("app")
        .pass_through_panics(true)
        .build()
        .unwrap();
    sup.add(Scripted::running("calm")).unwrap();
    sup.add(Scripted::new("svc", [Step::Panic])).unwrap();
    let _ = Running::start(sup).await.join().await;
}

#[tokio::test(start_paused = true)]
async fn pass_through_panics_stop_the_siblings_first() {
    let journal = Journal::new();
    let sup = Supervisor::builder("app")
        .pass_through_panics(true)
        .build()
        .unwrap();
    sup.add(Scripted::running("calm").journal(&journal))
        .unwrap();
    sup.add(Scripted::new("svc", [Step::Panic]).journal(&journal))
        .unwrap();
    let tree = Running::start(sup).await;
    let panicked = tokio::spawn(tree.join()).await.unwrap_err();
    assert!(panicked.is_panic());
    assert_eq!(
        journal.entries(),
        ["calm started", "svc started", "svc ended", "calm ended"]
    );
}

#[tokio::test(start_paused = true)]
async fn pass_through_panics_include_a_panic_in_serve_before_its_future() {
    // Escalates if the panic is taken for an abort, rather than retrying forever.
    let sup = Supervisor::builder("app")
        .pass_through_panics(true)
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    sup.add(service_fn("svc", |_ctx: Context| -> Ready<ServiceResult> {
        panic!("no future for you")
    }))
    .unwrap();
    let tree = Running::start(sup).await;
    let panicked = tokio::spawn(tree.join()).await.unwrap_err();
    let payload = panicked.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"no future for you"));
}
