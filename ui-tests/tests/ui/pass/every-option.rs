//! Every supervisor, child and service option, accepted and applied.
#![deny(warnings)]

use std::time::Duration;

use suture::{supervisor, ChildSpec, Context, Restart, Service, ServiceResult, Shutdown};

#[derive(Service)]
#[service(name = "db", restart = transient, shutdown = 5s, ready = 10s, method = serve_db)]
struct Database;

impl Database {
    async fn serve_db(&mut self, ctx: Context) -> ServiceResult {
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

#[derive(Service)]
struct Worker;

impl Worker {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

supervisor! {
    /// Uses every supervisor option.
    #[supervisor(
        strategy = rest_for_one,
        intensity = 2.5 / 1m,
        on_exceeded = backoff,
        backoff = 1500ms,
        jitter = 0.25,
        shutdown = 2s,
        shutdown_order = concurrent,
        propagate_termination = false,
        pass_through_panics,
        auto_shutdown = all_significant,
        name = "everything",
        crate = ::suture,
    )]
    pub struct Everything {
        /// Started last, because of `after`.
        #[child(restart = temporary, shutdown = abort, after = [database, fast])]
        late: Worker,
        database: Database,
        #[child(restart = transient, significant, ready = 250us, shutdown = 100ns, name = "quick")]
        fast: Worker,
        #[child(restart = permanent, shutdown = infinity, significant = false)]
        forever: Worker,
        #[child(shutdown = 1h)]
        slow: Worker,
    }

    #[supervisor(strategy = one_for_all, on_exceeded = escalate, intensity = 1 / 10s, auto_shutdown = never)]
    pub(crate) struct Escalating {
        worker: Worker,
    }
}

fn main() {
    assert_eq!(
        Everything::START_ORDER,
        ["database", "quick", "late", "forever", "slow"]
    );
    assert_eq!(
        Everything::STOP_ORDER,
        ["slow", "forever", "late", "quick", "database"]
    );
    let everything = Everything::new(Worker, Database, Worker, Worker, Worker);
    assert_eq!(everything.name(), "everything");
    assert!(matches!(everything.child_spec().get_shutdown(), Some(Shutdown::Infinity)));
    let escalating = Escalating::new(Worker);
    assert_eq!(escalating.name(), "escalating");
    assert_eq!(escalating.handle().supervisor().name(), "escalating");

    let db = Database;
    assert_eq!(db.name(), "db");
    let spec: ChildSpec = db.child_spec();
    assert_eq!(spec.get_restart(), Restart::Transient);
    assert!(matches!(spec.get_shutdown(), Some(Shutdown::Timeout(d)) if d == Duration::from_secs(5)));
    assert_eq!(spec.get_ready_within(), Some(Duration::from_secs(10)));
}
