//! Declared trees start in declaration order (reordered by `after`), stop in reverse, nest,
//! and take a dynamic `Supervisor` as a child. Only tokio primitives signal progress here:
//! no test kit, no sleeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use suture::{Context, Service, ServiceResult, Supervisor, supervisor};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the services did, in order, with a way to wait for a line.
#[derive(Clone, Default)]
struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.changed.notify_waiters();
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until `line` has been written (a hang fails the test on the paused clock).
    async fn wait_for(&self, line: &str) {
        let waiting = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if self.lines.lock().unwrap().iter().any(|l| l == line) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(3600), waiting)
            .await
            .unwrap_or_else(|_| panic!("`{line}` never came; log: {:?}", self.lines()));
    }
}

/// Logs its path when it starts and when it stops.
#[derive(Service)]
struct Probe {
    log: Log,
}

impl Probe {
    fn new(log: &Log) -> Self {
        Probe { log: log.clone() }
    }

    async fn run(&mut self, ctx: Context) -> ServiceResult {
        self.log.push(format!("started {}", ctx.path()));
        ctx.cancelled().await;
        self.log.push(format!("stopped {}", ctx.path()));
        Ok(())
    }
}

supervisor! {
    /// `cache` waits for `db`, and `web` for both, whatever the declaration order. `metrics`
    /// starts once `web` is ready, that is once `web`'s own children have started.
    struct App {
        #[child(after = [db, cache], ready = 1s)]
        web: Web,
        #[child(after = db)]
        cache: Probe,
        db: Probe,
        metrics: Probe,
    }

    /// The middle level.
    #[supervisor(strategy = one_for_all)]
    struct Web {
        http: Probe,
        https: Probe,
        /// A dynamic supervisor, ready once its own children have started.
        #[child(ready = 1s)]
        pool: Supervisor,
    }
}

/// Serves `service` as the root of a tree; returns the token that stops it and its task.
fn serve(mut service: impl Service) -> (CancellationToken, tokio::task::JoinHandle<ServiceResult>) {
    let stop = CancellationToken::new();
    let ctx = Context::new(stop.clone());
    (stop, tokio::spawn(async move { service.serve(ctx).await }))
}

fn app(log: &Log) -> App {
    let pool = Supervisor::builder("pool").build().unwrap();
    pool.add(Probe::new(log)).unwrap();
    App::new(
        Web::new(Probe::new(log), Probe::new(log), pool),
        Probe::new(log),
        Probe::new(log),
        Probe::new(log),
    )
}

#[test]
fn the_order_constants_follow_after_then_declaration() {
    // `db` is the first that may start, then `cache`, then `web` (declared before `metrics`).
    assert_eq!(App::START_ORDER, ["db", "cache", "web", "metrics"]);
    assert_eq!(App::STOP_ORDER, ["metrics", "web", "cache", "db"]);
    assert_eq!(Web::START_ORDER, ["http", "https", "pool"]);
}

#[tokio::test(start_paused = true)]
async fn a_declared_tree_starts_in_start_order_and_stops_in_reverse() {
    let log = Log::default();
    let (stop, task) = serve(app(&log));
    log.wait_for("started app/metrics").await;
    assert_eq!(
        log.lines(),
        [
            "started app/db",
            "started app/cache",
            "started app/web/http",
            "started app/web/https",
            "started app/web/pool/Probe",
            "started app/metrics",
        ]
    );
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        log.lines()[6..],
        [
            "stopped app/metrics",
            "stopped app/web/pool/Probe",
            "stopped app/web/https",
            "stopped app/web/http",
            "stopped app/cache",
            "stopped app/db",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_live_tree_shows_declared_and_dynamic_children() {
    let log = Log::default();
    let app = app(&log);
    let handle = app.handle().supervisor();
    let (stop, task) = serve(app);
    log.wait_for("started app/metrics").await;

    let names: Vec<String> = handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, App::START_ORDER);
    let mut paths = Vec::new();
    handle
        .tree()
        .await
        .unwrap()
        .walk(&mut |node| paths.push(node.path.clone()));
    for path in [
        "app/web",
        "app/web/http",
        "app/web/pool",
        "app/web/pool/Probe",
        "app/metrics",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
    }

    let web = handle
        .children()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "web")
        .unwrap();
    assert!(web.is_supervisor());
    stop.cancel();
    task.await.unwrap().unwrap();
}

supervisor! {
    #[supervisor(name = "outer")]
    struct Level1 {
        level2: Level2,
        leaf: Probe,
    }

    struct Level2 {
        level3: Level3,
    }

    #[supervisor(shutdown_order = concurrent)]
    struct Level3 {
        #[child(name = "deep")]
        leaf: Probe,
    }
}

#[tokio::test(start_paused = true)]
async fn three_declared_levels_nest_with_their_names() {
    let log = Log::default();
    let root = Level1::new(Level2::new(Level3::new(Probe::new(&log))), Probe::new(&log));
    assert_eq!(root.name(), "outer");
    let (stop, task) = serve(root);
    log.wait_for("started outer/level2/level3/deep").await;
    log.wait_for("started outer/leaf").await;
    // Without a ready timeout on `level2`, `leaf` does not wait for the subtree.
    let mut started = log.lines();
    started.sort();
    assert_eq!(
        started,
        ["started outer/leaf", "started outer/level2/level3/deep"]
    );
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        log.lines()[2..],
        ["stopped outer/leaf", "stopped outer/level2/level3/deep"]
    );
}
