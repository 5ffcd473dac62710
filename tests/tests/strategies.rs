//! Restart strategies (OTP semantics): who is stopped, who is restarted, in which order.

use std::time::Duration;

use suture::testing::{EventRecorder, Journal, Running, Scripted, Step, Trigger, describe, settle};
use suture::{ChildSpec, Restart, Strategy, Supervisor};

fn supervisor(strategy: Strategy, recorder: &EventRecorder) -> Supervisor {
    Supervisor::builder("app")
        .strategy(strategy)
        .intensity(100, Duration::from_secs(30))
        .event_hook(recorder.hook())
        .build()
        .unwrap()
}

/// Four children a, b, c, d; b fails when `crash` is pulled (once), the others run.
fn four_children(sup: &Supervisor, journal: &Journal, crash: &Trigger) {
    sup.add(Scripted::running("a").journal(journal)).unwrap();
    sup.add(Scripted::new("b", [Step::FailOn(crash.clone()), Step::Run]).journal(journal))
        .unwrap();
    sup.add(Scripted::running("c").journal(journal)).unwrap();
    sup.add(Scripted::running("d").journal(journal)).unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_failed_child() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForOne, &recorder);
    four_children(&sup, &journal, &crash);
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started d").await;
    journal.clear();

    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started b")
        .await;
    assert_eq!(journal.entries(), ["b ended", "b started"]);

    tree.shutdown().await.unwrap();
    // Reverse start order: b was restarted, but its place in the order is unchanged.
    assert_eq!(
        &journal.entries()[2..],
        ["d ended", "c ended", "b ended", "a ended"]
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_all_in_reverse_then_starts_all_in_order() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForAll, &recorder);
    four_children(&sup, &journal, &crash);
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started d").await;
    journal.clear();
    recorder.clear();

    crash.pull();
    recorder.wait_for_line("app: started d").await;
    assert_eq!(
        journal.entries(),
        [
            "b ended",
            "d ended",
            "c ended",
            "a ended",
            "a started",
            "b started",
            "c started",
            "d started"
        ]
    );
    assert_eq!(
        recorder.lines(),
        [
            "app: b failed, restarting now",
            "app: started a",
            "app: started b",
            "app: started c",
            "app: started d",
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::RestForOne, &recorder);
    four_children(&sup, &journal, &crash);
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started d").await;
    journal.clear();

    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started d")
        .await;
    assert_eq!(
        journal.entries(),
        [
            "b ended",
            "d ended",
            "c ended",
            "b started",
            "c started",
            "d started"
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn group_restart_waits_for_old_incarnations_to_stop() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForAll, &recorder);
    sup.add(Scripted::new("slow", [Step::StopSlowly(Duration::from_secs(3))]).journal(&journal))
        .unwrap();
    sup.add(Scripted::new("b", [Step::FailOn(crash.clone()), Step::Run]).journal(&journal))
        .unwrap();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started b").await;
    journal.clear();

    let crashed_at = tokio::time::Instant::now();
    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started slow")
        .await;
    // The new `slow` only started once the old one had taken its 3 s to stop.
    assert_eq!(crashed_at.elapsed(), Duration::from_secs(3));
    assert_eq!(
        journal.entries(),
        ["b ended", "slow ended", "slow started", "b started"]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn group_restart_drops_temporary_siblings() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForAll, &recorder);
    sup.add(Scripted::running("a").journal(&journal)).unwrap();
    sup.add_with(
        Scripted::running("temp").journal(&journal),
        ChildSpec::default().restart(Restart::Temporary),
    )
    .unwrap();
    sup.add(Scripted::new("b", [Step::FailOn(crash.clone()), Step::Run]).journal(&journal))
        .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started b").await;
    journal.clear();

    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started b")
        .await;
    assert_eq!(
        journal.entries(),
        ["b ended", "temp ended", "a ended", "a started", "b started"]
    );
    let names: Vec<String> = handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a", "b"], "the temporary child is gone for good");
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_transient_child_returning_normally_restarts_no_group() {
    let (recorder, journal, done) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForAll, &recorder);
    sup.add(Scripted::running("a").journal(&journal)).unwrap();
    sup.add_with(
        Scripted::new("job", [Step::ReturnOn(done.clone())]).journal(&journal),
        ChildSpec::default().restart(Restart::Transient),
    )
    .unwrap();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started job").await;
    journal.clear();

    done.pull();
    recorder
        .wait_for_line("app: job returned, no restart")
        .await;
    settle().await;
    assert_eq!(journal.entries(), ["job ended"], "a keeps running");
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_answering_a_group_stop_with_do_not_restart_stays_down() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let sup = supervisor(Strategy::OneForAll, &recorder);
    let quitter = suture::service_fn("quitter", |ctx: suture::Context| async move {
        ctx.cancelled().await;
        Err(suture::ServiceError::do_not_restart())
    });
    sup.add(quitter).unwrap();
    sup.add(Scripted::new("b", [Step::FailOn(crash.clone()), Step::Run]).journal(&journal))
        .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    recorder.wait_for_line("app: started b").await;

    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "app: started b")
        .await;
    let names: Vec<String> = handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        ["b"],
        "the group restart did not bring `quitter` back"
    );
    assert_eq!(recorder.count(|e| describe(e) == "app: started quitter"), 1);
    tree.shutdown().await.unwrap();
}
