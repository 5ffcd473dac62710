//! Restart types (permanent, transient, temporary) and the `DoNotRestart` outcome.

use std::time::Duration;

use suture::testing::{EventRecorder, Running, Scripted, Step, describe, settle};
use suture::{ChildSpec, EventKind, Restart, Supervisor};

fn supervisor(recorder: &EventRecorder) -> Supervisor {
    Supervisor::builder("app")
        .intensity(100, Duration::from_secs(30))
        .event_hook(recorder.hook())
        .build()
        .unwrap()
}

fn restart(kind: Restart) -> ChildSpec {
    ChildSpec::default().restart(kind)
}

/// Runs one child with `steps` under `kind`, until it has started `starts` times or settled.
async fn lines_for(kind: Restart, steps: Vec<Step>) -> Vec<String> {
    let recorder = EventRecorder::new();
    let sup = supervisor(&recorder);
    sup.add_with(Scripted::new("svc", steps), restart(kind))
        .unwrap();
    let tree = Running::start(sup).await;
    settle().await;
    tree.shutdown().await.unwrap();
    recorder.lines()
}

#[tokio::test(start_paused = true)]
async fn permanent_restarts_after_ok_error_and_panic() {
    let lines = lines_for(
        Restart::Permanent,
        vec![Step::Return, Step::Fail, Step::Panic, Step::Run],
    )
    .await;
    assert_eq!(
        lines,
        [
            "app: started svc",
            "app: svc returned, restarting now",
            "app: started svc",
            "app: svc failed, restarting now",
            "app: started svc",
            "app: svc panicked, restarting now",
            "app: started svc",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn transient_restarts_after_failures_but_not_after_ok() {
    let lines = lines_for(
        Restart::Transient,
        vec![Step::Fail, Step::Panic, Step::Return],
    )
    .await;
    assert_eq!(
        lines,
        [
            "app: started svc",
            "app: svc failed, restarting now",
            "app: started svc",
            "app: svc panicked, restarting now",
            "app: started svc",
            "app: svc returned, no restart",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn temporary_never_restarts_and_leaves_the_children_list() {
    for step in [Step::Fail, Step::Panic, Step::Return] {
        let recorder = EventRecorder::new();
        let sup = supervisor(&recorder);
        sup.add_with(
            Scripted::new("svc", [step.clone()]),
            restart(Restart::Temporary),
        )
        .unwrap();
        let handle = sup.handle();
        let tree = Running::start(sup).await;
        settle().await;
        assert_eq!(
            recorder.count(|e| matches!(e.kind, EventKind::Started { .. })),
            1,
            "{step:?}"
        );
        assert!(handle.children().await.unwrap().is_empty(), "{step:?}");
        tree.shutdown().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn do_not_restart_stops_even_a_permanent_child() {
    let recorder = EventRecorder::new();
    let sup = supervisor(&recorder);
    sup.add(Scripted::new("svc", [Step::Fail, Step::DoNotRestart]))
        .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    settle().await;
    assert_eq!(
        recorder.lines(),
        [
            "app: started svc",
            "app: svc failed, restarting now",
            "app: started svc",
            // A deliberate stop, not a failure: reported as a return.
            "app: svc returned, no restart",
        ]
    );
    // As in Go's suture, the child is removed from its supervisor for good.
    assert!(handle.children().await.unwrap().is_empty());
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn only_restarts_count_toward_intensity() {
    let recorder = EventRecorder::new();
    let sup = supervisor(&recorder);
    sup.add_with(
        Scripted::new("done", [Step::Return]),
        restart(Restart::Transient),
    )
    .unwrap();
    sup.add_with(
        Scripted::new("gone", [Step::Fail]),
        restart(Restart::Temporary),
    )
    .unwrap();
    sup.add(Scripted::new("again", [Step::Return, Step::Run]))
        .unwrap();
    let tree = Running::start(sup).await;
    settle().await;
    let failures: Vec<(String, f64)> = recorder
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Terminated {
                service, failures, ..
            } => Some((service.to_string(), *failures)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [
            ("done".to_owned(), 0.0),
            ("gone".to_owned(), 0.0),
            ("again".to_owned(), 1.0)
        ]
    );
    assert!(
        recorder
            .lines()
            .contains(&"app: gone failed, no restart".to_owned())
    );
    assert_eq!(describe(&recorder.events()[0]), "app: started done");
    tree.shutdown().await.unwrap();
}
