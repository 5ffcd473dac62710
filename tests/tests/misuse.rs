//! Every misuse of the public API is a typed error: never a panic, never a hang.

use std::time::Duration;

use suture::testing::{Running, Scripted, Step};
use suture::{
    AutoShutdown, ChildSpec, ChildState, Context, OnExceeded, Restart, Shutdown, SpecError,
    Supervisor, SupervisorError, service_fn,
};
use suture_tests::SECOND;
use tokio_util::sync::CancellationToken;

fn field_of(builder: suture::SupervisorBuilder) -> &'static str {
    builder.build().unwrap_err().field()
}

#[test]
fn the_builder_names_the_field_at_fault() {
    let b = || Supervisor::builder("app");
    assert_eq!(field_of(Supervisor::builder("")), "name");
    assert_eq!(field_of(Supervisor::builder("a/b")), "name");
    for threshold in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            field_of(b().intensity(threshold, Duration::from_secs(1))),
            "intensity"
        );
    }
    assert_eq!(field_of(b().intensity(5, Duration::ZERO)), "intensity");
    assert_eq!(field_of(b().backoff(Duration::ZERO)), "backoff");
    for jitter in [-0.1, 1.5, f64::NAN] {
        assert_eq!(field_of(b().jitter(jitter)), "jitter");
    }
    assert_eq!(field_of(b().shutdown(Duration::ZERO)), "shutdown");
    let contradictory = b()
        .backoff(Duration::from_secs(1))
        .on_exceeded(OnExceeded::Escalate);
    let error = contradictory.build().unwrap_err();
    assert_eq!(error.field(), "backoff");
    assert!(error.to_string().contains("backoff"), "{error}");
    assert!(b().jitter(0.0).build().is_ok());
    assert!(b().jitter(1.0).build().is_ok());
}

#[test]
fn bad_child_specs_are_rejected_when_added() {
    let sup = Supervisor::builder("app").build().unwrap();
    let add = |spec: ChildSpec| sup.add_with(Scripted::running("svc"), spec).unwrap_err();
    assert!(matches!(
        add(ChildSpec::default()
            .significant(true)
            .restart(Restart::Transient)),
        SupervisorError::InvalidSpec(SpecError::SignificantWithoutAutoShutdown { .. })
    ));
    assert!(matches!(
        add(ChildSpec::default().ready_within(Duration::ZERO)),
        SupervisorError::InvalidSpec(SpecError::ZeroDuration { field: "ready", .. })
    ));
    assert!(matches!(
        add(ChildSpec::default().shutdown(Shutdown::Timeout(Duration::ZERO))),
        SupervisorError::InvalidSpec(SpecError::ZeroDuration {
            field: "shutdown",
            ..
        })
    ));
    assert!(matches!(
        add(ChildSpec::default().name("a/b")),
        SupervisorError::InvalidSpec(SpecError::InvalidName { .. })
    ));

    let auto = Supervisor::builder("auto")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .build()
        .unwrap();
    let error = auto
        .add_with(
            Scripted::running("svc"),
            ChildSpec::default().significant(true),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            SupervisorError::InvalidSpec(SpecError::SignificantPermanent { .. })
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn removing_with_a_foreign_or_spent_token_is_an_error() {
    let a = Supervisor::builder("a").build().unwrap();
    let b = Supervisor::builder("b").build().unwrap();
    let from_b = b.add(Scripted::running("svc")).unwrap();
    let token = a.add(Scripted::running("svc")).unwrap();
    let handle = a.handle();
    let tree = Running::start(a).await;

    let error = handle.remove(from_b).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::WrongSupervisor { .. }),
        "{error}"
    );
    handle.remove(token).await.unwrap();
    let error = handle.remove(token).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::UnknownChild { .. }),
        "{error}"
    );
    let error = handle
        .remove_and_wait(token, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SupervisorError::UnknownChild { .. }),
        "{error}"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_finished_supervisor_refuses_everything_with_finished() {
    let sup = Supervisor::builder("app").build().unwrap();
    let token = sup.add(Scripted::running("svc")).unwrap();
    let handle = sup.handle();
    Running::start(sup).await.shutdown().await.unwrap();
    assert!(handle.is_finished());
    assert!(!handle.is_running());

    let error = handle.add(Scripted::running("late")).unwrap_err();
    assert!(matches!(error, SupervisorError::Finished { .. }), "{error}");
    assert_eq!(error.to_string(), "supervisor `app` has finished");
    assert!(matches!(
        handle.remove(token).await.unwrap_err(),
        SupervisorError::Finished { .. }
    ));
    assert!(matches!(
        handle.children().await.unwrap_err(),
        SupervisorError::Finished { .. }
    ));
    assert!(matches!(
        handle.tree().await.unwrap_err(),
        SupervisorError::Finished { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn querying_a_supervisor_that_is_not_served_yet_is_not_running() {
    let sup = Supervisor::builder("app").build().unwrap();
    let token = sup.add(Scripted::running("svc")).unwrap();
    let handle = sup.handle();
    assert!(!handle.is_running());
    let error = handle.children().await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::NotRunning { .. }),
        "{error}"
    );
    let error = handle.remove(token).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::NotRunning { .. }),
        "{error}"
    );
    // Adding before serving is fine: the child waits in the supervisor's value.
    handle.add(Scripted::running("early")).unwrap();
    let tree = Running::start(sup).await;
    assert_eq!(handle.children().await.unwrap().len(), 2);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn serving_a_running_supervisor_twice_is_already_running() {
    use suture::Service;
    let mut sup = Supervisor::builder("app").build().unwrap();
    sup.add(Scripted::running("svc")).unwrap();
    let stop = CancellationToken::new();
    // Start serving, then leak the future: the loop is still registered as running, which is
    // the one way safe code can reach the same value while it is being served.
    let mut first = Box::pin(sup.serve(Context::new(stop.clone())));
    tokio::select! {
        biased;
        _ = &mut first => panic!("a supervisor with a running child does not return"),
        _ = std::future::ready(()) => {}
    }
    std::mem::forget(first);

    let error = sup.serve(Context::new(stop.clone())).await.unwrap_err();
    let error = error.downcast_ref::<SupervisorError>().unwrap();
    assert!(
        matches!(error, SupervisorError::AlreadyRunning { .. }),
        "{error}"
    );
    assert_eq!(error.to_string(), "supervisor `app` is already running");
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_restarted_by_its_parent_starts_its_added_children_again() {
    let inner = Supervisor::builder("inner")
        .intensity(0.5, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    let inner_handle = inner.handle();
    let root = Supervisor::builder("root").build().unwrap();
    root.add(inner).unwrap();
    let tree = Running::start(root).await;

    let added = Scripted::running("added");
    let probe = added.probe();
    inner_handle.add(added).unwrap();
    probe.wait_for_starts(1).await;
    // Its first failure exceeds `inner`'s intensity: `inner` escalates, `root` restarts it,
    // and the child added through the handle starts again with it.
    inner_handle
        .add(Scripted::new("crasher", [Step::Fail, Step::Run]))
        .unwrap();
    probe.wait_for_starts(2).await;
    assert_eq!(probe.ends(), 1);
    let names: Vec<String> = inner_handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["added", "crasher"]);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_dropped_without_being_served_is_finished_to_every_method() {
    let sup = Supervisor::builder("app").build().unwrap();
    let svc = Scripted::running("svc");
    let probe = svc.probe();
    let token = sup.add(svc).unwrap();
    let handle = sup.handle();
    drop(sup);
    assert!(handle.is_finished());
    assert!(!handle.is_running());

    let stopped = |error: SupervisorError| {
        assert!(
            matches!(error, SupervisorError::Finished { ref supervisor } if supervisor == "app"),
            "{error}"
        );
    };
    stopped(handle.add(Scripted::running("late")).unwrap_err());
    stopped(handle.remove(token).await.unwrap_err());
    stopped(
        handle
            .remove_and_wait(token, Duration::from_secs(1))
            .await
            .unwrap_err(),
    );
    stopped(handle.children().await.unwrap_err());
    stopped(handle.tree().await.unwrap_err());
    stopped(handle.stop_child(token).await.unwrap_err());
    stopped(handle.start_child(token).await.unwrap_err());
    stopped(handle.restart_child(token).await.unwrap_err());
    assert_eq!(probe.starts(), 0);
    assert!(handle.unstopped_services().is_empty());
}

#[tokio::test(start_paused = true)]
async fn adding_while_the_supervisor_stops_for_good_is_refused() {
    let sup = Supervisor::builder("app").build().unwrap();
    let parent = sup.handle();
    let late = Scripted::running("late");
    let late_probe = late.probe();
    let mut late = Some(late);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    // On its cancellation (the supervisor shutting down for good), it adds a sibling.
    sup.add(service_fn("adder", move |ctx: Context| {
        let (parent, tx, late) = (parent.clone(), tx.clone(), late.take());
        let _ = started_tx.send(());
        async move {
            ctx.cancelled().await;
            if let Some(late) = late {
                let _ = tx.send(parent.add(late));
            }
            Ok(())
        }
    }))
    .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    started.recv().await.unwrap();

    tree.shutdown().await.unwrap();
    let error = rx.recv().await.unwrap().unwrap_err();
    assert!(
        matches!(error, SupervisorError::Finished { ref supervisor } if supervisor == "app"),
        "{error}"
    );
    assert!(handle.is_finished());
    assert_eq!(late_probe.starts(), 0, "the refused child never ran");
}

#[tokio::test(start_paused = true)]
async fn duration_max_settings_mean_never_and_nothing_overflows() {
    // Each accepted on its own.
    assert!(
        Supervisor::builder("a")
            .backoff(Duration::MAX)
            .build()
            .is_ok()
    );
    assert!(
        Supervisor::builder("a")
            .shutdown(Duration::MAX)
            .build()
            .is_ok()
    );
    assert!(
        Supervisor::builder("a")
            .intensity(1, Duration::MAX)
            .on_exceeded(OnExceeded::Escalate)
            .build()
            .is_ok()
    );

    let recorder = suture::testing::EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(1, Duration::MAX)
        .backoff(Duration::MAX)
        .shutdown(Duration::MAX)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    // Ready after 5 s, well within an endless ready timeout.
    let late = Scripted::new("late", [Step::ReadyAfter(5 * SECOND)]);
    sup.add_with(late, ChildSpec::new().ready_within(Duration::MAX))
        .unwrap();
    // Takes 3 s to stop, within an endless budget of its own.
    let slow = Scripted::new("slow", [Step::StopSlowly(3 * SECOND)]);
    sup.add_with(
        slow,
        ChildSpec::new().shutdown(Shutdown::Timeout(Duration::MAX)),
    )
    .unwrap();
    // Takes 2 s to stop, within the supervisor's endless default budget.
    sup.add(Scripted::new("lingering", [Step::StopSlowly(2 * SECOND)]))
        .unwrap();
    // Fails on every start: restarted once, then the second failure exceeds the threshold
    // of 1 (a half-life of `Duration::MAX` never decays) and restarts pause for ever.
    let crasher = Scripted::new("crasher", [Step::Fail]);
    let crasher_probe = crasher.probe();
    sup.add(crasher).unwrap();
    let handle = sup.handle();

    let begin = tokio::time::Instant::now();
    let tree = Running::start(sup).await;
    assert_eq!(begin.elapsed(), 5 * SECOND, "start-up waited for `late`");
    let backoff = recorder
        .wait_for(|e| matches!(e.kind, suture::EventKind::BackoffStarted { .. }))
        .await;
    let suture::EventKind::BackoffStarted { pause, .. } = backoff.kind else {
        unreachable!()
    };
    assert_eq!(pause, Duration::MAX);
    assert_eq!(crasher_probe.starts(), 2);

    // A century later (of paused time), nothing has moved.
    tokio::time::sleep(Duration::from_secs(100 * 365 * 24 * 3600)).await;
    assert_eq!(crasher_probe.starts(), 2);
    let states: Vec<(String, ChildState)> = handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("late".to_owned(), ChildState::Running),
            ("slow".to_owned(), ChildState::Running),
            ("lingering".to_owned(), ChildState::Running),
            ("crasher".to_owned(), ChildState::BackedOff),
        ]
    );

    // Shuts down cleanly: each child stops in its own time, none is aborted.
    let begin = tokio::time::Instant::now();
    tree.shutdown().await.unwrap();
    assert_eq!(begin.elapsed(), 5 * SECOND);
    assert!(handle.is_finished());
    assert_eq!(
        recorder.count(|e| matches!(
            e.kind,
            suture::EventKind::StopTimeout { .. } | suture::EventKind::BackoffEnded
        )),
        0,
        "{:?}",
        recorder.lines()
    );
    assert!(handle.unstopped_services().is_empty());
}

/// The same rule on a multi-thread runtime, where a cancelled child runs on another worker
/// while its supervisor is still telling its siblings to stop. (Not on the paused clock: it
/// is about threads; it needs no sleep, and once the rule holds it passes every time.)
///
/// The supervisor marks itself stopping before it tells any child to stop, so an `add` made
/// in reaction is refused rather than accepted for a child that would never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_while_the_supervisor_stops_for_good_is_refused_on_every_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let accepted = Arc::new(AtomicUsize::new(0));
    let late_starts = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        // Stopping concurrently: every child is told to stop in one go.
        let sup = Supervisor::builder("app")
            .shutdown_order(suture::ShutdownOrder::Concurrent)
            .build()
            .unwrap();
        let (ready_tx, mut ready) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..50 {
            let (parent, accepted, late_starts) =
                (sup.handle(), accepted.clone(), late_starts.clone());
            let ready_tx = ready_tx.clone();
            sup.add(service_fn(format!("w{i}"), move |ctx: Context| {
                let (parent, accepted) = (parent.clone(), accepted.clone());
                let late_starts = late_starts.clone();
                let _ = ready_tx.send(());
                async move {
                    ctx.cancelled().await;
                    let late = service_fn("late", move |ctx: Context| {
                        late_starts.fetch_add(1, Ordering::SeqCst);
                        async move {
                            ctx.cancelled().await;
                            Ok(())
                        }
                    });
                    if parent.add(late).is_ok() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                }
            }))
            .unwrap();
        }
        drop(ready_tx);
        let stop = CancellationToken::new();
        let task = sup.serve_background(Context::new(stop.clone())).await;
        for _ in 0..50 {
            ready.recv().await.unwrap();
        }
        stop.cancel();
        task.await.unwrap().unwrap();
        if accepted.load(Ordering::SeqCst) > 0 {
            break;
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "`add` was accepted while the supervisor stopped for good; those children ran {} times",
        late_starts.load(Ordering::SeqCst)
    );
}
