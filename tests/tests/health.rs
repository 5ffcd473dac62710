//! Health: summed up by each supervisor, passed upward, printed in the tree, read cheaply
//! from a handle and watched for changes.

use std::time::Duration;

use suture::testing::{Running, Scripted, Step, settle};
use suture::{ChildState, Health, OnExceeded, Supervisor};
use tokio::sync::watch;

const SECOND: Duration = Duration::from_secs(1);

/// Waits (bounded) for the watched health to satisfy `pred`, returning it.
async fn wait_for(rx: &mut watch::Receiver<Health>, pred: impl Fn(&Health) -> bool) -> Health {
    for _ in 0..100 {
        {
            let now = rx.borrow_and_update();
            if pred(&now) {
                return now.clone();
            }
        }
        rx.changed().await.expect("the sender lives in the handle");
    }
    panic!("health never matched; last: {}", *rx.borrow());
}

#[tokio::test(start_paused = true)]
async fn a_subtree_whose_children_all_back_off_is_not_healthy_from_above() {
    let inner = Supervisor::builder("listeners")
        .intensity(1, 30 * SECOND)
        .backoff(60 * SECOND)
        .jitter(0.0)
        .build()
        .unwrap();
    inner
        .add(Scripted::new("http", [Step::Fail, Step::Fail, Step::Run]))
        .unwrap();
    inner
        .add(Scripted::new("https", [Step::Fail, Step::Fail, Step::Run]))
        .unwrap();
    let listeners = inner.handle();
    let root = Supervisor::builder("app").build().unwrap();
    root.add(Scripted::new("db", [Step::Run])).unwrap();
    root.add(inner).unwrap();
    let mut health = root.handle().watch_health();
    let tree = Running::start(root).await;

    // Both listeners fail until the backoff: the root is degraded, naming them.
    let degraded = wait_for(
        &mut health,
        |h| matches!(h, Health::Degraded { unhealthy } if unhealthy.len() == 2),
    )
    .await;
    let paths: Vec<&str> = degraded.unhealthy().iter().map(|p| &**p).collect();
    assert_eq!(paths, ["app/listeners/http", "app/listeners/https"]);
    assert_eq!(
        listeners.health(),
        Health::BackingOff {
            unhealthy: vec!["app/listeners/http".into(), "app/listeners/https".into()]
        }
    );
    let snapshot = tree.handle.tree().await.unwrap();
    assert_eq!(snapshot.health, degraded);
    let node = &snapshot.children[1];
    assert_eq!(node.state, Some(ChildState::Running));
    assert_eq!(node.health.label(), "backing off");
    assert_eq!(
        node.children[0].health.label(),
        "backing off",
        "a leaf's health follows its state"
    );
    let printed = snapshot.to_string();
    assert!(
        printed
            .starts_with("app [degraded (not running: app/listeners/http, app/listeners/https)]\n"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "listeners [running, backing off (not running: app/listeners/http, app/listeners/https)"
        ),
        "{printed}"
    );
    assert!(printed.contains("db [running"), "{printed}");

    // The backoff ends, both run: healthy again, all the way up.
    wait_for(&mut health, Health::is_healthy).await;
    assert_eq!(listeners.health(), Health::Healthy);
    let printed = tree.handle.tree().await.unwrap().to_string();
    assert!(printed.starts_with("app [healthy]\n"), "{printed}");
    assert!(
        printed.contains("listeners [running, up"),
        "a healthy supervisor's line says nothing more: {printed}"
    );

    tree.shutdown().await.unwrap();
    assert_eq!(*health.borrow_and_update(), Health::Stopped);
    assert_eq!(listeners.health(), Health::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_by_request_degrades_until_started_again() {
    let sup = Supervisor::builder("app").build().unwrap();
    let cache = sup.add(Scripted::new("cache", [Step::Run])).unwrap();
    sup.add(Scripted::new("db", [Step::Run])).unwrap();
    let handle = sup.handle();
    assert_eq!(handle.health(), Health::Stopped, "not served yet");
    let tree = Running::start(sup).await;
    settle().await;
    assert_eq!(handle.health(), Health::Healthy);

    handle.stop_child(cache).await.unwrap();
    settle().await;
    assert_eq!(
        handle.health(),
        Health::Degraded {
            unhealthy: vec!["app/cache".into()]
        }
    );
    let children = handle.children().await.unwrap();
    assert_eq!(children[0].health, Health::Stopped);
    assert_eq!(children[1].health, Health::Healthy);

    handle.start_child(cache).await.unwrap();
    settle().await;
    assert_eq!(handle.health(), Health::Healthy);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_finished_transient_child_is_fine_and_an_escalation_is_a_failure() {
    let sup = Supervisor::builder("app")
        .intensity(1, 30 * SECOND)
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    let once = Scripted::new("once", [Step::Return]);
    let spec = suture::ChildSpec::new().restart(suture::Restart::Transient);
    sup.add_with(once, spec).unwrap();
    let flaky = Scripted::new("flaky", [Step::Run, Step::Fail]);
    let flaky_probe = flaky.probe();
    sup.add(flaky).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    settle().await;
    assert_eq!(handle.health(), Health::Healthy, "`once` finished: fine");

    // Two restarts exceed the intensity: the supervisor escalates, and has failed.
    let mut health = handle.watch_health();
    handle
        .restart_child(handle.children().await.unwrap()[1].token)
        .await
        .unwrap();
    flaky_probe.wait_for_starts(3).await;
    let error = tree.join().await.unwrap_err();
    assert!(error.to_string().contains("intensity"), "{error}");
    assert_eq!(handle.health(), Health::Failed);
    assert_eq!(
        wait_for(&mut health, |h| *h == Health::Failed).await,
        Health::Failed
    );
}

#[tokio::test(start_paused = true)]
async fn a_finished_transient_child_supervisor_is_fine_too() {
    // A job runner that shuts itself down once its one significant job is done.
    let job = Supervisor::builder("job")
        .auto_shutdown(suture::AutoShutdown::AnySignificant)
        .build()
        .unwrap();
    let significant = suture::ChildSpec::new()
        .restart(suture::Restart::Transient)
        .significant(true);
    job.add_with(
        Scripted::new("work", [Step::Run, Step::Return]),
        significant,
    )
    .unwrap();
    let job_handle = job.handle();
    let sup = Supervisor::builder("app").build().unwrap();
    sup.add_with(
        job,
        suture::ChildSpec::new().restart(suture::Restart::Transient),
    )
    .unwrap();
    sup.add(Scripted::new("db", [Step::Run])).unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    settle().await;
    assert_eq!(handle.health(), Health::Healthy);

    let work = job_handle.children().await.unwrap()[0].token;
    job_handle.restart_child(work).await.unwrap();
    settle().await;
    assert!(job_handle.is_finished(), "the job runner shut itself down");
    assert_eq!(
        handle.children().await.unwrap()[0].state,
        ChildState::Stopped
    );
    assert_eq!(
        handle.health(),
        Health::Healthy,
        "its end was not a failure"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_tree_is_starting_until_its_ready_gated_children_are_ready() {
    let sup = Supervisor::builder("app").build().unwrap();
    let db = Scripted::new("db", [Step::ReadyAfter(5 * SECOND)]);
    sup.add_with(db, suture::ChildSpec::new().ready_within(10 * SECOND))
        .unwrap();
    let handle = sup.handle();
    let mut health = handle.watch_health();
    let start = tokio::spawn(Running::start(sup));
    assert_eq!(
        wait_for(&mut health, |h| *h == Health::Starting).await,
        Health::Starting
    );
    let tree = start.await.unwrap();
    assert_eq!(
        handle.health(),
        Health::Healthy,
        "published before start-up is reported complete"
    );
    tree.shutdown().await.unwrap();
}
