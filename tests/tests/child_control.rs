//! Controlling children in place through the handle: `stop_child`, `start_child`,
//! `restart_child` (OTP's terminate_child / restart_child), under every strategy.

use std::time::Duration;

use suture::testing::{EventRecorder, Probe, Running, Scripted, Step, Trigger, settle};
use suture::{
    ChildInfo, ChildSpec, ChildState, ChildToken, Context, OnExceeded, Restart, Shutdown, Strategy,
    Supervisor, SupervisorError, SupervisorHandle, service_fn,
};
use suture_tests::{SECOND, row, states};
use tokio::time::Instant;

/// A supervisor that escalates at its second counted restart within the hour: a stop or a
/// restart by request that counted toward intensity would end it after a few cycles.
fn strict(strategy: Strategy, recorder: &EventRecorder) -> Supervisor {
    Supervisor::builder("app")
        .strategy(strategy)
        .intensity(1, Duration::from_secs(3600))
        .on_exceeded(OnExceeded::Escalate)
        .event_hook(recorder.hook())
        .build()
        .unwrap()
}

/// Three running children `a`, `b`, `c`, served; `b` takes `b_linger` to stop (within a
/// budget of 5 s).
struct Trio {
    tree: Running,
    handle: SupervisorHandle,
    b: ChildToken,
    probes: [Probe; 3],
}

async fn trio(sup: Supervisor, b_linger: Duration) -> Trio {
    let a = Scripted::running("a");
    let b = Scripted::new("b", [Step::StopSlowly(b_linger)]);
    let c = Scripted::running("c");
    let probes = [a.probe(), b.probe(), c.probe()];
    sup.add(a).unwrap();
    let b = sup
        .add_with(b, ChildSpec::new().shutdown(Shutdown::Timeout(5 * SECOND)))
        .unwrap();
    sup.add(c).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    for probe in &probes {
        probe.wait_for_starts(1).await;
    }
    Trio {
        tree,
        handle,
        b,
        probes,
    }
}

/// `a` and `c` were started once and never stopped.
fn siblings_untouched(probes: &[Probe; 3]) {
    for (name, probe) in [("a", &probes[0]), ("c", &probes[2])] {
        assert_eq!((probe.starts(), probe.ends()), (1, 0), "sibling {name}");
    }
}

// ---- stop_child ----------------------------------------------------------------------

async fn stop_child_leaves_it_stopped_alone_and_uncounted(strategy: Strategy) {
    let recorder = EventRecorder::new();
    let Trio {
        tree,
        handle,
        b,
        probes,
    } = trio(strict(strategy, &recorder), 2 * SECOND).await;
    recorder.clear();

    // Returns once `b` has stopped: after its 2 s of lingering, within its 5 s budget.
    let begin = Instant::now();
    handle.stop_child(b).await.unwrap();
    assert_eq!(begin.elapsed(), 2 * SECOND);
    assert_eq!((probes[1].starts(), probes[1].ends()), (1, 1));
    assert_eq!(
        states(&handle).await,
        [
            row("a", ChildState::Running, 0),
            row("b", ChildState::Stopped, 0),
            row("c", ChildState::Running, 0),
        ]
    );
    siblings_untouched(&probes);
    // Stopping a stopped child does nothing, at once.
    let begin = Instant::now();
    handle.stop_child(b).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    // Left stopped: nothing restarts it.
    settle().await;
    assert_eq!(probes[1].starts(), 1);

    // Stop/start cycles: with intensity 1 and escalation, two counted restarts would end
    // the supervisor.
    for cycle in 2..=4 {
        handle.start_child(b).await.unwrap();
        assert_eq!(probes[1].starts(), cycle);
        handle.stop_child(b).await.unwrap();
        assert_eq!(probes[1].ends(), cycle);
    }
    settle().await;
    assert!(handle.is_running());
    assert!(!tree.is_finished());
    siblings_untouched(&probes);
    // No failure, no restart decision, no stop time-out, no escalation: only the starts.
    assert_eq!(recorder.lines(), ["app: started b"; 3]);
    assert_eq!(
        states(&handle).await,
        [
            row("a", ChildState::Running, 0),
            row("b", ChildState::Stopped, 3),
            row("c", ChildState::Running, 0),
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_child_under_one_for_one() {
    stop_child_leaves_it_stopped_alone_and_uncounted(Strategy::OneForOne).await;
}

#[tokio::test(start_paused = true)]
async fn stop_child_under_one_for_all() {
    stop_child_leaves_it_stopped_alone_and_uncounted(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn stop_child_under_rest_for_one() {
    stop_child_leaves_it_stopped_alone_and_uncounted(Strategy::RestForOne).await;
}

/// A sibling's failure restarts its group, but not a child stopped by request.
async fn a_stopped_child_stays_stopped_through_a_group_restart(strategy: Strategy) {
    let crash = Trigger::new();
    let sup = Supervisor::builder("app")
        .strategy(strategy)
        .build()
        .unwrap();
    let a = Scripted::new("a", [Step::FailOn(crash.clone()), Step::Run]);
    let b = Scripted::running("b");
    let c = Scripted::running("c");
    let (pa, pb, pc) = (a.probe(), b.probe(), c.probe());
    sup.add(a).unwrap();
    let b = sup.add(b).unwrap();
    sup.add(c).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    pc.wait_for_starts(1).await;

    handle.stop_child(b).await.unwrap();
    crash.pull();
    // `a` failed: the whole group (one_for_all) or the rest (rest_for_one) restarts.
    pc.wait_for_starts(2).await;
    pa.wait_for_starts(2).await;
    settle().await;
    assert_eq!((pb.starts(), pb.ends()), (1, 1), "b was stopped by request");
    assert_eq!(
        states(&handle).await,
        [
            row("a", ChildState::Running, 1),
            row("b", ChildState::Stopped, 0),
            row("c", ChildState::Running, 1),
        ]
    );
    handle.start_child(b).await.unwrap();
    assert_eq!(pb.starts(), 2);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stopped_child_stays_stopped_through_a_one_for_all_restart() {
    a_stopped_child_stays_stopped_through_a_group_restart(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_child_stays_stopped_through_a_rest_for_one_restart() {
    a_stopped_child_stays_stopped_through_a_group_restart(Strategy::RestForOne).await;
}

#[tokio::test(start_paused = true)]
async fn stop_child_aborts_a_child_that_ignores_cancellation_after_its_budget() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let stuck = Scripted::new("stuck", [Step::IgnoreCancel]);
    let stuck_probe = stuck.probe();
    let stuck = sup
        .add_with(
            stuck,
            ChildSpec::new().shutdown(Shutdown::Timeout(3 * SECOND)),
        )
        .unwrap();
    let brutal = Scripted::new("brutal", [Step::IgnoreCancel]);
    let brutal_probe = brutal.probe();
    let brutal = sup
        .add_with(brutal, ChildSpec::new().shutdown(Shutdown::Abort))
        .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    brutal_probe.wait_for_starts(1).await;

    let begin = Instant::now();
    handle.stop_child(stuck).await.unwrap();
    assert_eq!(begin.elapsed(), 3 * SECOND, "its budget, then the abort");
    assert_eq!(stuck_probe.ends(), 1);
    recorder.wait_for_line("app: stuck stop timeout").await;

    // No grace at all: aborted at once.
    let begin = Instant::now();
    handle.stop_child(brutal).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(brutal_probe.ends(), 1);

    assert_eq!(
        states(&handle).await,
        [
            row("stuck", ChildState::Stopped, 0),
            row("brutal", ChildState::Stopped, 0),
        ]
    );
    assert!(handle.unstopped_services().is_empty());
    // The aborted run handed its service back: it can start again.
    handle.start_child(stuck).await.unwrap();
    assert_eq!(stuck_probe.starts(), 2);
    tree.token.cancel();
    let begin = Instant::now();
    tree.join().await.unwrap();
    assert_eq!(begin.elapsed(), 3 * SECOND);
}

// ---- start_child ---------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn start_child_on_a_running_child_is_an_error_naming_it() {
    let sup = Supervisor::builder("app").build().unwrap();
    let db = Scripted::running("db");
    let probe = db.probe();
    let db = sup.add(db).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(1).await;

    let error = handle.start_child(db).await.unwrap_err();
    match &error {
        SupervisorError::ChildRunning { supervisor, child } => {
            assert_eq!((supervisor.as_str(), child.as_str()), ("app", "db"));
        }
        other => panic!("expected ChildRunning, got {other:?}"),
    }
    assert!(error.to_string().contains("`db`"), "{error}");
    settle().await;
    assert_eq!(
        (probe.starts(), probe.ends()),
        (1, 0),
        "left running as it was"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn start_child_on_a_child_waiting_out_a_backoff_is_child_running() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(1, Duration::from_secs(3600))
        .backoff(60 * SECOND)
        .jitter(0.0)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let flaky = Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run]);
    let probe = flaky.probe();
    let flaky = sup.add(flaky).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: backoff 60s").await;
    assert_eq!(
        states(&handle).await,
        [row("flaky", ChildState::BackedOff, 1)]
    );

    let error = handle.start_child(flaky).await.unwrap_err();
    assert!(
        matches!(&error, SupervisorError::ChildRunning { child, .. } if child == "flaky"),
        "{error}"
    );
    // The backoff still decides when it restarts.
    let begin = Instant::now();
    probe.wait_for_starts(3).await;
    assert_eq!(begin.elapsed(), 60 * SECOND);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn start_child_starts_a_transient_child_that_returned() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let job = Scripted::new("job", [Step::Return, Step::Run]);
    let probe = job.probe();
    let job = sup
        .add_with(job, ChildSpec::new().restart(Restart::Transient))
        .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder
        .wait_for_line("app: job returned, no restart")
        .await;
    assert_eq!(states(&handle).await, [row("job", ChildState::Stopped, 0)]);

    handle.start_child(job).await.unwrap();
    assert_eq!(probe.starts(), 2);
    assert_eq!(states(&handle).await, [row("job", ChildState::Running, 1)]);
    // Started by request, it is a running child like any other.
    let error = handle.start_child(job).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::ChildRunning { .. }),
        "{error}"
    );
    tree.shutdown().await.unwrap();
    assert_eq!(probe.ends(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_that_ended_is_forgotten() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let once = Scripted::new("once", [Step::Return]);
    let probe = once.probe();
    let once = sup
        .add_with(once, ChildSpec::new().restart(Restart::Temporary))
        .unwrap();
    sup.add(Scripted::running("other")).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder
        .wait_for_line("app: once returned, no restart")
        .await;
    assert_eq!(
        states(&handle).await,
        [row("other", ChildState::Running, 0)]
    );

    for error in [
        handle.start_child(once).await.unwrap_err(),
        handle.restart_child(once).await.unwrap_err(),
        handle.stop_child(once).await.unwrap_err(),
    ] {
        assert!(
            matches!(error, SupervisorError::UnknownChild { .. }),
            "{error}"
        );
    }
    settle().await;
    assert_eq!(probe.starts(), 1);
    tree.shutdown().await.unwrap();
}

// ---- restart_child -------------------------------------------------------------------

async fn restart_child_stops_then_starts_it_alone_and_uncounted(strategy: Strategy) {
    let recorder = EventRecorder::new();
    let Trio {
        tree,
        handle,
        b,
        probes,
    } = trio(strict(strategy, &recorder), 2 * SECOND).await;
    recorder.clear();

    // Three restarts in a row: counted, the second would escalate.
    for n in 1..=3 {
        let begin = Instant::now();
        handle.restart_child(b).await.unwrap();
        // Returns once started again, after its 2 s of lingering.
        assert_eq!(begin.elapsed(), 2 * SECOND);
        assert_eq!((probes[1].starts(), probes[1].ends()), (n + 1, n));
        assert!(probes[1].is_running());
        assert_eq!(
            states(&handle).await,
            [
                row("a", ChildState::Running, 0),
                row("b", ChildState::Running, n),
                row("c", ChildState::Running, 0),
            ]
        );
        siblings_untouched(&probes);
    }
    settle().await;
    assert!(handle.is_running());
    assert!(!tree.is_finished());
    assert_eq!(recorder.lines(), ["app: started b"; 3]);

    // A stopped child is just started.
    handle.stop_child(b).await.unwrap();
    let begin = Instant::now();
    handle.restart_child(b).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!((probes[1].starts(), probes[1].ends()), (5, 4));
    siblings_untouched(&probes);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn restart_child_under_one_for_one() {
    restart_child_stops_then_starts_it_alone_and_uncounted(Strategy::OneForOne).await;
}

#[tokio::test(start_paused = true)]
async fn restart_child_under_one_for_all() {
    restart_child_stops_then_starts_it_alone_and_uncounted(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn restart_child_under_rest_for_one() {
    restart_child_stops_then_starts_it_alone_and_uncounted(Strategy::RestForOne).await;
}

// ---- errors --------------------------------------------------------------------------

/// `stop_child`, `start_child` and `restart_child` of `token`, in that order.
async fn control_all(handle: &SupervisorHandle, token: ChildToken) -> [SupervisorError; 3] {
    [
        handle.stop_child(token).await.unwrap_err(),
        handle.start_child(token).await.unwrap_err(),
        handle.restart_child(token).await.unwrap_err(),
    ]
}

#[tokio::test(start_paused = true)]
async fn control_with_a_foreign_or_removed_token_is_a_typed_error() {
    let other = Supervisor::builder("other").build().unwrap();
    let foreign = other.add(Scripted::running("svc")).unwrap();
    let sup = Supervisor::builder("app").build().unwrap();
    let slow = Scripted::new("slow", [Step::StopSlowly(3 * SECOND)]);
    let probe = slow.probe();
    let slow = sup.add(slow).unwrap();
    let gone = sup.add(Scripted::running("gone")).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(1).await;

    for error in control_all(&handle, foreign).await {
        assert!(
            matches!(error, SupervisorError::WrongSupervisor { ref supervisor, .. } if supervisor == "app"),
            "{error}"
        );
    }
    handle.remove(gone).await.unwrap();
    for error in control_all(&handle, gone).await {
        assert!(
            matches!(error, SupervisorError::UnknownChild { .. }),
            "{error}"
        );
    }
    // Removed but still stopping: already unknown.
    handle.remove(slow).await.unwrap();
    assert!(probe.is_running());
    for error in control_all(&handle, slow).await {
        assert!(
            matches!(error, SupervisorError::UnknownChild { .. }),
            "{error}"
        );
    }
    probe.wait_for_ends(1).await;
    settle().await;
    assert_eq!(
        probe.starts(),
        1,
        "a removed child is not started by request"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn control_before_serving_is_not_running_and_after_stopping_is_finished() {
    let sup = Supervisor::builder("app").build().unwrap();
    let svc = Scripted::running("svc");
    let probe = svc.probe();
    let token = sup.add(svc).unwrap();
    let handle = sup.handle();
    for error in control_all(&handle, token).await {
        assert!(
            matches!(error, SupervisorError::NotRunning { ref supervisor } if supervisor == "app"),
            "{error}"
        );
    }
    assert_eq!(
        probe.starts(),
        0,
        "nothing was started by the refused requests"
    );

    Running::start(sup).await.shutdown().await.unwrap();
    assert!(handle.is_finished());
    for error in control_all(&handle, token).await {
        assert!(
            matches!(error, SupervisorError::Finished { ref supervisor } if supervisor == "app"),
            "{error}"
        );
    }
    assert_eq!((probe.starts(), probe.ends()), (1, 1));
}

// ---- the handle answers in every phase ----------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_ready_gated_child_asking_its_supervisor_before_ready_is_answered_at_once() {
    let sup = Supervisor::builder("app").build().unwrap();
    let parent = sup.handle();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let gated = service_fn("gated", move |ctx: Context| {
        let (parent, tx) = (parent.clone(), tx.clone());
        async move {
            let asked = Instant::now();
            let answer = parent.children().await;
            let _ = tx.send((asked.elapsed(), answer));
            ctx.ready();
            ctx.cancelled().await;
            Ok(())
        }
    });
    sup.add_with(gated, ChildSpec::new().ready_within(10 * SECOND))
        .unwrap();
    let next = Scripted::running("next");
    let next_probe = next.probe();
    sup.add(next).unwrap();
    let handle = sup.handle();

    let begin = Instant::now();
    let tree = Running::start(sup).await;
    let (waited, answer) = rx.recv().await.unwrap();
    assert_eq!(waited, Duration::ZERO);
    let answer: Vec<(String, ChildState)> = answer
        .unwrap()
        .into_iter()
        .map(|c: ChildInfo| (c.name, c.state))
        .collect();
    // Asked during start-up: it is still starting, and the next child waits for it.
    assert_eq!(
        answer,
        [
            ("gated".to_owned(), ChildState::Starting),
            ("next".to_owned(), ChildState::Stopped),
        ]
    );
    // Then it became ready at once: start-up completed without any time passing.
    next_probe.wait_for_starts(1).await;
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(
        states(&handle).await,
        [
            row("gated", ChildState::Running, 0),
            row("next", ChildState::Running, 0),
        ]
    );
    tree.shutdown().await.unwrap();
}

/// A child stopped by request while its group is being restarted is left out of the
/// restart, shows as stopped, and can be started by request.
async fn stop_child_during_a_group_restart_keeps_it_stopped(strategy: Strategy) {
    let crash = Trigger::new();
    let sup = Supervisor::builder("app")
        .strategy(strategy)
        .build()
        .unwrap();
    let a = Scripted::new("a", [Step::FailOn(crash.clone()), Step::Run]);
    let b = Scripted::new("b", [Step::StopSlowly(SECOND)]);
    // Stopped first in the group, and slowly: the group restart takes 5 s.
    let c = Scripted::new("c", [Step::StopSlowly(5 * SECOND)]);
    let (pa, pb, pc) = (a.probe(), b.probe(), c.probe());
    sup.add(a).unwrap();
    let b = sup.add(b).unwrap();
    sup.add(c).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    pc.wait_for_starts(1).await;

    crash.pull();
    pa.wait_for_ends(1).await;
    settle().await;
    let begin = Instant::now();
    handle.stop_child(b).await.unwrap();
    assert_eq!(begin.elapsed(), SECOND);
    assert_eq!(pb.ends(), 1);
    // The rest of the group restarts once `c` has stopped.
    pc.wait_for_starts(2).await;
    pa.wait_for_starts(2).await;
    settle().await;
    assert_eq!(
        pb.starts(),
        1,
        "b was stopped by request: the group leaves it"
    );
    assert_eq!(
        states(&handle).await,
        [
            row("a", ChildState::Running, 1),
            row("b", ChildState::Stopped, 0),
            row("c", ChildState::Running, 1),
        ]
    );
    handle.start_child(b).await.unwrap();
    assert_eq!(pb.starts(), 2);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_child_during_a_one_for_all_restart_keeps_it_stopped() {
    stop_child_during_a_group_restart_keeps_it_stopped(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn stop_child_during_a_rest_for_one_restart_keeps_it_stopped() {
    stop_child_during_a_group_restart_keeps_it_stopped(Strategy::RestForOne).await;
}

#[tokio::test(start_paused = true)]
async fn stop_child_on_a_backed_off_child_keeps_it_stopped_after_the_backoff() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(1, Duration::from_secs(3600))
        .backoff(60 * SECOND)
        .jitter(0.0)
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let flaky = Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run]);
    let probe = flaky.probe();
    let flaky = sup.add(flaky).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: backoff 60s").await;
    assert_eq!(
        states(&handle).await,
        [row("flaky", ChildState::BackedOff, 1)]
    );

    let begin = Instant::now();
    handle.stop_child(flaky).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(
        states(&handle).await,
        [row("flaky", ChildState::Stopped, 1)]
    );
    // The end of the backoff does not restart it.
    recorder.wait_for_line("app: backoff ended").await;
    settle().await;
    assert_eq!(probe.starts(), 2);
    assert_eq!(
        states(&handle).await,
        [row("flaky", ChildState::Stopped, 1)]
    );
    handle.start_child(flaky).await.unwrap();
    assert_eq!(probe.starts(), 3);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_child_on_a_child_holding_up_start_up_lets_the_next_ones_start() {
    let sup = Supervisor::builder("app").build().unwrap();
    let slow = Scripted::new("slow", [Step::NeverReady]);
    let slow_probe = slow.probe();
    let slow = sup
        .add_with(slow, ChildSpec::new().ready_within(10 * SECOND))
        .unwrap();
    let next = Scripted::running("next");
    let next_probe = next.probe();
    sup.add(next).unwrap();
    let handle = sup.handle();
    let starting = tokio::spawn(Running::start(sup));
    slow_probe.wait_for_starts(1).await;
    assert_eq!(
        states(&handle).await,
        [
            row("slow", ChildState::Starting, 0),
            row("next", ChildState::Stopped, 0),
        ]
    );

    let begin = Instant::now();
    handle.stop_child(slow).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::ZERO);
    let tree = starting.await.unwrap();
    next_probe.wait_for_starts(1).await;
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(
        states(&handle).await,
        [
            row("slow", ChildState::Stopped, 0),
            row("next", ChildState::Running, 0),
        ]
    );
    assert_eq!(slow_probe.starts(), 1);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_while_it_stops_for_missing_its_ready_deadline_stays_stopped() {
    let sup = Supervisor::builder("app").build().unwrap();
    // Never ready; once told to stop, takes 2 s to do it.
    let starts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = starts.clone();
    let gated = service_fn("gated", move |ctx: Context| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            ctx.cancelled().await;
            tokio::time::sleep(2 * SECOND).await;
            Ok(())
        }
    });
    let gated = sup
        .add_with(gated, ChildSpec::new().ready_within(SECOND))
        .unwrap();
    let handle = sup.handle();
    let tree = tokio::spawn(Running::start(sup));
    tokio::time::sleep(SECOND + SECOND / 2).await;
    assert_eq!(
        states(&handle).await,
        [row("gated", ChildState::Stopping, 0)]
    );

    handle.stop_child(gated).await.unwrap();
    settle().await;
    assert_eq!(
        states(&handle).await,
        [row("gated", ChildState::Stopped, 0)],
        "stopped by request: left stopped, not restarted"
    );
    let starts = || starts.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(starts(), 1);
    handle.start_child(gated).await.unwrap();
    assert_eq!(starts(), 2);
    tree.await.unwrap().shutdown().await.unwrap();
}

/// A child supervisor stopped by its parent is kept, to be started again: meanwhile it is
/// not finished, and what is added to it runs when it is. Its parent's last serve finishes it.
#[tokio::test(start_paused = true)]
async fn a_child_supervisor_stopped_by_request_is_not_finished() {
    let inner = Supervisor::builder("inner").build().unwrap();
    inner.add(Scripted::running("a")).unwrap();
    let inner_handle = inner.handle();
    let root = Supervisor::builder("root").build().unwrap();
    let inner_token = root.add(inner).unwrap();
    let tree = Running::start(root).await;
    settle().await;

    tree.handle.stop_child(inner_token).await.unwrap();
    assert!(!inner_handle.is_running());
    assert!(!inner_handle.is_finished(), "kept by its parent");
    let b = Scripted::running("b");
    let b_probe = b.probe();
    inner_handle.add(b).expect("kept for its next serve");
    assert_eq!(b_probe.starts(), 0);

    tree.handle.start_child(inner_token).await.unwrap();
    settle().await;
    assert!(inner_handle.is_running());
    assert_eq!(b_probe.starts(), 1);
    assert_eq!(
        states(&inner_handle).await,
        [
            row("a", ChildState::Running, 1),
            row("b", ChildState::Running, 0)
        ],
        "runs are counted across serves"
    );

    tree.handle.stop_child(inner_token).await.unwrap();
    tree.shutdown().await.unwrap();
    assert!(inner_handle.is_finished(), "its parent is done with it");
}
