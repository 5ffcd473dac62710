//! Typed declared trees: a `supervisor!` struct's generated handle reaches, controls and
//! grows each declared child by its type, before, while and after the tree runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use suture::testing::{Probe, Running, Scripted, Step, settle};
use suture::{ChildState, Event, EventKind, Restart, Supervisor, SupervisorError, supervisor};
use suture_tests::{row, states};
use tokio::time::Instant;

supervisor! {
    /// A database beside a one_for_all pair of listeners and a pool of workers.
    struct App {
        db: Scripted,
        listeners: Listeners,
        #[child(restart = transient)]
        workers: Vec<Scripted>,
        extra: Option<Scripted>,
    }

    #[supervisor(strategy = one_for_all)]
    struct Listeners {
        http: Scripted,
        https: Scripted,
    }
}

/// Serves `app` as the only child of a root named `root`.
async fn serve<S: suture::Service>(app: S) -> Running {
    let root = Supervisor::builder("root").build().unwrap();
    root.add(app).unwrap();
    Running::start(root).await
}

struct Fixture {
    app: App,
    db: Probe,
    http: Probe,
    https: Probe,
}

fn fixture(workers: Vec<Scripted>, extra: Option<Scripted>) -> Fixture {
    let db = Scripted::running("db");
    let http = Scripted::running("http");
    let https = Scripted::running("https");
    let (db_probe, http_probe, https_probe) = (db.probe(), http.probe(), https.probe());
    let app = App::new(db, Listeners::new(http, https), workers, extra);
    Fixture {
        app,
        db: db_probe,
        http: http_probe,
        https: https_probe,
    }
}

#[tokio::test(start_paused = true)]
async fn a_nested_child_restarted_by_its_typed_path_restarts_alone() {
    let Fixture {
        app,
        db,
        http,
        https,
    } = fixture(Vec::new(), None);
    let handle = app.handle();
    let tree = serve(app).await;
    for probe in [&db, &http, &https] {
        probe.wait_for_starts(1).await;
    }

    let http_ref = handle.listeners().http();
    assert_eq!(http_ref.name(), "http");
    assert_eq!(http_ref.path().await.unwrap(), "root/app/listeners/http");
    http_ref.restart().await.unwrap();
    settle().await;

    assert_eq!((http.starts(), http.ends()), (2, 1));
    // Its one_for_all sibling and the rest of the tree are untouched.
    assert_eq!((https.starts(), https.ends()), (1, 0));
    assert_eq!((db.starts(), db.ends()), (1, 0));
    assert_eq!(
        states(&handle.listeners().supervisor()).await,
        [
            row("http", ChildState::Running, 1),
            row("https", ChildState::Running, 0)
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_stopped_by_request_under_one_for_all_restarts_no_sibling() {
    let Fixture {
        app, http, https, ..
    } = fixture(Vec::new(), None);
    let listeners = app.handle().listeners();
    let tree = serve(app).await;
    http.wait_for_starts(1).await;
    https.wait_for_starts(1).await;

    listeners.https().stop().await.unwrap();
    settle().await;
    assert_eq!(
        listeners.https().info().await.unwrap().state,
        ChildState::Stopped
    );
    assert_eq!((https.starts(), https.ends()), (1, 1));
    assert_eq!((http.starts(), http.ends()), (1, 0));

    listeners.https().start().await.unwrap();
    settle().await;
    assert_eq!(https.starts(), 2);
    assert_eq!((http.starts(), http.ends()), (1, 0));
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_pool_grows_and_shrinks_while_running() {
    let first = Scripted::running("w");
    let second = Scripted::running("w");
    let (first_probe, second_probe) = (first.probe(), second.probe());
    let Fixture { app, .. } = fixture(vec![first, second], None);
    let pool = app.handle().workers();
    assert_eq!(pool.name(), "workers");
    let tree = serve(app).await;
    first_probe.wait_for_starts(1).await;
    second_probe.wait_for_starts(1).await;

    let third = Scripted::running("w");
    let third_probe = third.probe();
    let third = pool.add(third).unwrap();
    third_probe.wait_for_starts(1).await;
    assert_eq!(third.name(), "w#3");
    assert_eq!(third.path().await.unwrap(), "root/app/workers/w#3");
    // The field's `#[child(restart = transient)]` applies to every element.
    assert_eq!(third.info().await.unwrap().restart, Restart::Transient);

    let elements = pool.children().await.unwrap();
    let names: Vec<&str> = elements.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["w", "w#2", "w#3"]);

    pool.remove(&elements[1]).await.unwrap();
    second_probe.wait_for_ends(1).await;
    assert_eq!(pool.children().await.unwrap().len(), 2);
    // The freed name is given again.
    let again = pool.add(Scripted::running("w")).unwrap();
    assert_eq!(again.name(), "w#2");
    // An element of the pool is not an element of another supervisor.
    let other = Supervisor::builder("other").build().unwrap();
    let stranger = other.handle().add(Scripted::running("x")).unwrap();
    assert!(matches!(
        pool.supervisor().stop_child(stranger).await,
        Err(SupervisorError::WrongSupervisor { .. })
    ));
    assert_eq!((first_probe.starts(), first_probe.ends()), (1, 0));
    tree.shutdown().await.unwrap();
}

supervisor! {
    #[supervisor(shutdown = 1s)]
    struct Big {
        pool: Vec<Scripted>,
    }
}

#[tokio::test(start_paused = true)]
async fn a_pool_of_ten_thousand_stops_concurrently() {
    const N: usize = 10_000;
    // Each element takes 500 ms to stop: one at a time, that would be 5,000 s.
    let elements: Vec<Scripted> = (0..N)
        .map(|_| Scripted::new("e", [Step::StopSlowly(Duration::from_millis(500))]))
        .collect();
    let app = Big::new(elements);
    let pool = app.handle().pool();
    let tree = serve(app).await;
    settle().await;
    let children = pool.supervisor().children().await.unwrap();
    assert_eq!(children.len(), N);
    assert!(children.iter().all(|c| c.state == ChildState::Running));
    assert_eq!(children[N - 1].name, format!("e#{N}"));

    let began = Instant::now();
    tree.shutdown().await.unwrap();
    assert_eq!(began.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn an_optional_child_absent_starts_nothing_and_present_runs() {
    let Fixture { app, db, .. } = fixture(Vec::new(), None);
    assert!(app.handle().extra().is_none());
    let handle = app.handle().supervisor();
    let tree = serve(app).await;
    db.wait_for_starts(1).await;
    let names: Vec<String> = states(&handle).await.into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["db", "listeners", "workers"]);
    tree.shutdown().await.unwrap();

    let extra = Scripted::running("ignored");
    let probe = extra.probe();
    let Fixture { app, .. } = fixture(Vec::new(), Some(extra));
    let extra = app.handle().extra().unwrap();
    assert_eq!(extra.name(), "extra");
    let tree = serve(app).await;
    probe.wait_for_starts(1).await;
    assert_eq!(extra.info().await.unwrap().state, ChildState::Running);
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn typed_handles_taken_before_serve_work_once_it_runs_and_give_typed_errors_after() {
    let Fixture { app, db, .. } = fixture(Vec::new(), None);
    let handle = app.handle();
    let db_ref = handle.db();
    assert!(matches!(
        db_ref.restart().await,
        Err(SupervisorError::NotRunning { .. })
    ));
    assert!(matches!(
        handle.listeners().http().info().await,
        Err(SupervisorError::NotRunning { .. })
    ));

    let tree = serve(app).await;
    db.wait_for_starts(1).await;
    db_ref.restart().await.unwrap();
    assert_eq!(db_ref.info().await.unwrap().restarts, 1);
    tree.shutdown().await.unwrap();

    assert!(matches!(
        db_ref.stop().await,
        Err(SupervisorError::Finished { .. })
    ));
    assert!(matches!(
        handle.workers().add(Scripted::running("late")),
        Err(SupervisorError::Finished { .. })
    ));
}

static HOOKED: AtomicUsize = AtomicUsize::new(0);

fn count_starts(event: &Event) {
    if matches!(event.kind, EventKind::Started { .. }) {
        HOOKED.fetch_add(1, Ordering::SeqCst);
    }
}

supervisor! {
    /// Raw identifiers are named without `r#`, and no field collides with what is generated.
    #[supervisor(event_hook = count_starts)]
    struct Odd {
        r#type: Scripted,
        __suture: Scripted,
    }
}

#[tokio::test(start_paused = true)]
async fn raw_identifiers_hidden_names_and_the_event_hook() {
    assert_eq!(Odd::START_ORDER, ["type", "__suture"]);
    let ty = Scripted::running("t");
    let probe = ty.probe();
    let odd = Odd::new(ty, Scripted::running("s"));
    let handle = odd.handle();
    assert_eq!(handle.r#type().name(), "type");
    assert_eq!(odd.__suture.name(), "__suture");
    let tree = serve(odd).await;
    probe.wait_for_starts(1).await;
    settle().await;
    assert_eq!(
        handle.r#type().path().await.unwrap(),
        "root/odd/type",
        "the run-time name has no `r#`"
    );
    assert_eq!(HOOKED.load(Ordering::SeqCst), 2);
    tree.shutdown().await.unwrap();
}

supervisor! {
    /// `significant` with no `restart` option: only the child type knows its restart type,
    /// so the macro accepts it and the spec is checked when the tree is built.
    #[supervisor(auto_shutdown = any_significant)]
    struct Significant {
        #[child(significant)]
        job: Scripted,
    }
}

#[tokio::test(start_paused = true)]
async fn significant_on_a_type_that_is_permanent_is_a_typed_error_when_served() {
    use suture::Service;
    // `Scripted`'s own spec is permanent: a significant permanent child never ends for good.
    let mut app = Significant::new(Scripted::running("job"));
    let stop = tokio_util::sync::CancellationToken::new();
    let error = app
        .serve(suture::Context::new(stop))
        .await
        .expect_err("a significant permanent child is refused");
    let message = error.to_string();
    assert!(message.contains("significant"), "{message}");
    assert!(message.contains("job"), "{message}");
}
