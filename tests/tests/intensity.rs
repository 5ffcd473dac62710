//! Intensity: the decaying failure count, backoff (entry, queueing, resume) and escalation.

use std::time::Duration;

use suture::testing::{EventRecorder, Journal, Running, Scripted, Step, Trigger, describe, settle};
use suture::{EventKind, IntensityExceeded, OnExceeded, Supervisor};
use suture_tests::SECOND;
use tokio::time::Instant;

fn failure_counts(recorder: &EventRecorder) -> Vec<f64> {
    recorder
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Terminated { failures, .. } | EventKind::Panicked { failures, .. } => {
                Some(*failures)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn failures_decay_by_half_each_half_life() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(100, Duration::from_secs(10))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    // Fails at t = 0, 10 s, 20 s, then once more 30 s later (t = 50 s).
    let gap = |d: u64| Step::FailAfter(Duration::from_secs(d));
    sup.add(Scripted::new(
        "svc",
        [Step::Fail, gap(10), gap(10), gap(30), Step::Run],
    ))
    .unwrap();
    let tree = Running::start(sup).await;
    recorder
        .wait_for_nth(5, |e| matches!(e.kind, EventKind::Started { .. }))
        .await;
    // failures = failures * 0.5^(elapsed / half_life) + 1
    let expected = [1.0, 1.5, 1.75, 1.75 * 0.125 + 1.0];
    let counts = failure_counts(&recorder);
    assert_eq!(counts.len(), expected.len());
    for (got, want) in counts.iter().zip(expected) {
        assert!((got - want).abs() < 1e-9, "{counts:?} vs {expected:?}");
    }
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn exceeding_the_threshold_backs_off_then_resumes_with_a_fresh_count() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(1, Duration::from_secs(30))
        .backoff(Duration::from_secs(15))
        .jitter(0.0)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(Scripted::new(
        "svc",
        [Step::Fail, Step::Fail, Step::Fail, Step::Run],
    ))
    .unwrap();
    let begin = Instant::now();
    let tree = Running::start(sup).await;
    recorder
        .wait_for_nth(4, |e| matches!(e.kind, EventKind::Started { .. }))
        .await;
    // Threshold 1: the second failure (count 2 > 1) backs off; after the pause the count is
    // 0 again, so the third failure (count 1) restarts at once.
    assert_eq!(
        recorder.lines(),
        [
            "app: started svc",
            "app: svc failed, restarting now",
            "app: started svc",
            "app: backoff 15s",
            "app: svc failed, restarting after backoff",
            "app: backoff ended",
            "app: started svc",
            "app: svc failed, restarting now",
            "app: started svc",
        ]
    );
    assert_eq!(begin.elapsed(), Duration::from_secs(15));
    assert_eq!(failure_counts(&recorder), [1.0, 2.0, 1.0]);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failures_during_backoff_are_queued_in_order_and_rearm_the_pause() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let (first, second) = (Trigger::new(), Trigger::new());
    let sup = Supervisor::builder("app")
        .intensity(0.5, Duration::from_secs(30))
        .backoff(Duration::from_secs(10))
        .jitter(0.0)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(Scripted::new("a", [Step::Fail, Step::Run]).journal(&journal))
        .unwrap();
    sup.add(Scripted::new("b", [Step::FailOn(first.clone()), Step::Run]).journal(&journal))
        .unwrap();
    sup.add(Scripted::new("c", [Step::FailOn(second.clone()), Step::Run]).journal(&journal))
        .unwrap();
    let begin = Instant::now();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: backoff 10s").await;
    recorder.wait_for_line("app: started c").await;

    // 4 s into the pause, c fails; 3 s later, b does. Each re-arms the 10 s pause.
    tokio::time::sleep(4 * SECOND).await;
    second.pull();
    tokio::time::sleep(3 * SECOND).await;
    first.pull();
    recorder.wait_for_line("app: backoff ended").await;
    assert_eq!(begin.elapsed(), Duration::from_secs(17));
    settle().await;
    let restarts: Vec<String> = journal
        .entries()
        .into_iter()
        .skip_while(|e| e != "c ended")
        .collect();
    assert_eq!(
        restarts,
        ["c ended", "b ended", "a started", "c started", "b started"],
        "queued children restart in the order they failed"
    );
    assert_eq!(
        recorder.count(|e| matches!(e.kind, EventKind::BackoffStarted { .. })),
        3
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn jitter_lengthens_the_pause_within_its_fraction() {
    for _ in 0..20 {
        let recorder = EventRecorder::new();
        let sup = Supervisor::builder("app")
            .intensity(0.5, Duration::from_secs(30))
            .backoff(Duration::from_secs(10))
            .jitter(0.5)
            .event_hook(recorder.hook())
            .build()
            .unwrap();
        sup.add(Scripted::new("svc", [Step::Fail, Step::Run]))
            .unwrap();
        let tree = Running::start(sup).await;
        let event = recorder
            .wait_for(|e| matches!(e.kind, EventKind::BackoffStarted { .. }))
            .await;
        let EventKind::BackoffStarted { pause, .. } = event.kind else {
            unreachable!()
        };
        assert!(
            pause >= Duration::from_secs(10) && pause < Duration::from_secs(15),
            "{pause:?}"
        );
        let begin = Instant::now();
        recorder.wait_for_line("app: backoff ended").await;
        let waited = begin.elapsed();
        // The paused clock moves in whole milliseconds.
        assert!(
            waited.abs_diff(pause) <= Duration::from_millis(1),
            "{waited:?} vs {pause:?}"
        );
        tree.shutdown().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn escalation_stops_children_in_reverse_and_fails_to_the_parent() {
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let inner = Supervisor::builder("inner")
        .intensity(1, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    inner
        .add(Scripted::running("first").journal(&journal))
        .unwrap();
    inner
        .add(Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run]).journal(&journal))
        .unwrap();
    inner
        .add(Scripted::running("last").journal(&journal))
        .unwrap();
    let root = Supervisor::builder("root")
        .intensity(10, Duration::from_secs(30))
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(inner).unwrap();
    let tree = Running::start(root).await;

    let escalated = recorder
        .wait_for(|e| matches!(e.kind, EventKind::Escalated { .. }))
        .await;
    assert_eq!(&*escalated.supervisor, "root/inner");
    let failed = recorder
        .wait_for(|e| describe(e) == "root: inner failed, restarting now")
        .await;
    let EventKind::Terminated { error, .. } = &failed.kind else {
        unreachable!()
    };
    let error = error.as_deref().unwrap();
    assert!(error.contains("intensity"), "{error}");

    recorder
        .wait_for_nth(2, |e| describe(e) == "root/inner: started last")
        .await;
    assert_eq!(
        journal.entries(),
        [
            "first started",
            "flaky started",
            "flaky ended",
            "last started",
            "flaky started",
            "flaky ended",
            // Escalation: the others stop in reverse order, then the parent restarts `inner`.
            "last ended",
            "first ended",
            "first started",
            "flaky started",
            "last started",
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_escalating_root_returns_intensity_exceeded() {
    let root = Supervisor::builder("root")
        .intensity(2, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    root.add(Scripted::new("svc", [Step::Fail])).unwrap();
    let error = Running::start(root).await.join().await.unwrap_err();
    let exceeded = error.downcast_ref::<IntensityExceeded>().unwrap();
    assert_eq!(exceeded.supervisor, "root");
    assert_eq!(exceeded.failures, 3.0);
}
