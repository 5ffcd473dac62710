//! Events: what hooks receive, in which order, and with which details (what reaches
//! `tracing` is in `tracing_events.rs`).

use std::future::Ready;
use std::time::Duration;

use suture::testing::{EventRecorder, Running, Scripted, Step, describe};
use suture::{
    Context, Event, EventKind, OnExceeded, Restarting, ServiceResult, Supervisor, service_fn,
};

#[tokio::test(start_paused = true)]
async fn a_panic_is_reported_with_its_message_and_location() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(Scripted::new(
        "svc",
        [Step::Panic, Step::PanicWithValue, Step::Run],
    ))
    .unwrap();
    let tree = Running::start(sup).await;
    let panics: Vec<Event> = (1..=2)
        .map(|n| recorder.wait_for_nth(n, |e| matches!(e.kind, EventKind::Panicked { .. })))
        .collect::<futures_util::future::JoinAll<_>>()
        .await;
    let EventKind::Panicked {
        message,
        location,
        restarting,
        ..
    } = &panics[0].kind
    else {
        unreachable!()
    };
    assert_eq!(message, "scripted panic");
    let location = location.as_deref().unwrap();
    assert!(location.contains("testing.rs"), "{location}");
    assert_eq!(*restarting, Restarting::Now);
    let EventKind::Panicked { message, .. } = &panics[1].kind else {
        unreachable!()
    };
    assert!(
        !message.is_empty(),
        "a non-string payload still gets a message"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_serve_before_its_future_is_reported_as_a_panic() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(service_fn("svc", |_ctx: Context| -> Ready<ServiceResult> {
        panic!("no future for you")
    }))
    .unwrap();
    let tree = Running::start(sup).await;
    let ended = recorder
        .wait_for(|e| {
            matches!(
                e.kind,
                EventKind::Panicked { .. } | EventKind::Terminated { .. }
            )
        })
        .await;
    let EventKind::Panicked {
        message, location, ..
    } = &ended.kind
    else {
        panic!("reported as {ended}, not as a panic");
    };
    assert_eq!(message, "no future for you");
    let location = location.as_deref().unwrap();
    assert!(location.contains("events.rs"), "{location}");
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_hook_sees_its_whole_subtree_with_paths() {
    let (root_events, inner_events) = (EventRecorder::new(), EventRecorder::new());
    let inner = Supervisor::builder("inner")
        .event_hook(inner_events.hook())
        .build()
        .unwrap();
    inner
        .add(Scripted::new("leaf", [Step::Fail, Step::Run]))
        .unwrap();
    let root = Supervisor::builder("root")
        .event_hook(root_events.hook())
        .build()
        .unwrap();
    root.add(inner).unwrap();
    let tree = Running::start(root).await;
    root_events
        .wait_for_nth(2, |e| describe(e) == "root/inner: started leaf")
        .await;
    assert_eq!(
        root_events.lines(),
        [
            "root: started inner",
            "root/inner: started leaf",
            "root/inner: leaf failed, restarting now",
            "root/inner: started leaf",
        ]
    );
    assert_eq!(inner_events.lines(), &root_events.lines()[1..]);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panicking_hook_does_not_break_the_supervisor() {
    let sup = Supervisor::builder("app")
        .event_hook(|_: &Event| panic!("hook bug"))
        .build()
        .unwrap();
    let svc = Scripted::new("svc", [Step::Fail, Step::Run]);
    let probe = svc.probe();
    sup.add(svc).unwrap();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(2).await;
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn escalation_events_come_in_order() {
    let recorder = EventRecorder::new();
    let inner = Supervisor::builder("inner")
        .intensity(1, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    inner.add(Scripted::new("svc", [Step::Fail])).unwrap();
    let root = Supervisor::builder("root")
        .intensity(0.5, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(inner).unwrap();
    let error = Running::start(root).await.join().await.unwrap_err();
    assert!(error.to_string().contains("`root`"), "{error}");
    assert_eq!(
        recorder.lines(),
        [
            "root: started inner",
            "root/inner: started svc",
            "root/inner: svc failed, restarting now",
            "root/inner: started svc",
            // The failure that crossed the threshold, then the escalation it caused; the parent
            // likewise. (A backoff is announced before its failure, as in Go's suture.)
            "root/inner: svc failed, no restart",
            "root/inner: escalated",
            "root: inner failed, no restart",
            "root: escalated",
        ]
    );
}

/// A supervisor served inside a service of the user's own (not a child supervisor the
/// parent can recognise) still reports to its ancestors' hooks.
#[tokio::test(start_paused = true)]
async fn a_supervisor_wrapped_in_a_service_reports_to_the_hooks_above() {
    struct Wrapper(Supervisor);
    impl suture::Service for Wrapper {
        async fn serve(&mut self, ctx: Context) -> ServiceResult {
            self.0.serve(ctx).await
        }
    }
    let root_events = EventRecorder::new();
    let inner = Supervisor::builder("inner").build().unwrap();
    inner
        .add(Scripted::new("leaf", [Step::Fail, Step::Run]))
        .unwrap();
    let root = Supervisor::builder("root")
        .event_hook(root_events.hook())
        .build()
        .unwrap();
    root.add(Wrapper(inner)).unwrap();
    let tree = Running::start(root).await;
    root_events
        .wait_for_nth(2, |e| describe(e) == "root/Wrapper: started leaf")
        .await;
    assert_eq!(
        root_events.lines(),
        [
            "root: started Wrapper",
            "root/Wrapper: started leaf",
            "root/Wrapper: leaf failed, restarting now",
            "root/Wrapper: started leaf",
        ]
    );
    tree.shutdown().await.unwrap();
}
