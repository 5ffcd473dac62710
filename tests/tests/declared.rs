//! Declared trees (`supervisor!`, `#[derive(Service)]`) behave as their declaration says.

use std::time::Duration;

use suture::testing::{EventRecorder, Journal, Running, Scripted, Step, Trigger, describe};
use suture::{
    ChildSpec, Context, Restart, Service, ServiceResult, Shutdown, Supervisor, supervisor,
};

/// A service written the way users write them, with derive defaults to override.
#[derive(Service)]
#[service(restart = transient, shutdown = 7s)]
struct Derived {
    journal: Journal,
}

impl Derived {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        self.journal.write("derived started");
        ctx.cancelled().await;
        self.journal.write("derived ended");
        Ok(())
    }
}

supervisor! {
    /// Children started in declaration order, except `cache`, which waits for `db`.
    #[supervisor(shutdown = 5s)]
    struct App {
        #[child(after = db)]
        cache: Scripted,
        db: Scripted,
        web: Web,
    }

    #[supervisor(strategy = one_for_all, intensity = 10 / 30s)]
    struct Web {
        http: Scripted,
        https: Scripted,
    }
}

fn app(journal: &Journal, crash: &Trigger) -> App {
    App::new(
        Scripted::running("cache").journal(journal),
        Scripted::running("db").journal(journal),
        Web::new(
            Scripted::new("http", [Step::FailOn(crash.clone()), Step::Run]).journal(journal),
            Scripted::running("https").journal(journal),
        ),
    )
}

/// Serves `service` under a plain root with `recorder`, so that its events are recorded.
async fn serve(service: impl Service, recorder: &EventRecorder) -> Running {
    let root = Supervisor::builder("root")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    root.add(service).unwrap();
    Running::start(root).await
}

#[tokio::test(start_paused = true)]
async fn start_and_stop_follow_the_declaration_and_after() {
    assert_eq!(App::START_ORDER, ["db", "cache", "web"]);
    assert_eq!(App::STOP_ORDER, ["web", "cache", "db"]);
    let (recorder, journal) = (EventRecorder::new(), Journal::new());
    let tree = serve(app(&journal, &Trigger::new()), &recorder).await;
    recorder.wait_for_line("root/app/web: started https").await;
    tree.shutdown().await.unwrap();
    assert_eq!(
        journal.entries(),
        [
            "db started",
            "cache started",
            "http started",
            "https started",
            "https ended",
            "http ended",
            "cache ended",
            "db ended",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_declared_one_for_all_restarts_its_group() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let tree = serve(app(&journal, &crash), &recorder).await;
    recorder.wait_for_line("root/app/web: started https").await;
    journal.clear();
    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "root/app/web: started https")
        .await;
    assert_eq!(
        journal.entries(),
        ["http ended", "https ended", "http started", "https started"]
    );
    tree.shutdown().await.unwrap();
}

supervisor! {
    #[supervisor(strategy = rest_for_one)]
    struct Chain {
        first: Scripted,
        second: Scripted,
        third: Scripted,
    }

    #[supervisor(intensity = 1 / 30s, on_exceeded = escalate)]
    struct Fragile {
        flaky: Scripted,
    }

    #[supervisor(intensity = 10 / 30s)]
    struct Holder {
        fragile: Fragile,
        steady: Scripted,
    }
}

#[tokio::test(start_paused = true)]
async fn a_declared_rest_for_one_restarts_the_rest() {
    let (recorder, journal, crash) = (EventRecorder::new(), Journal::new(), Trigger::new());
    let chain = Chain::new(
        Scripted::running("first").journal(&journal),
        Scripted::new("second", [Step::FailOn(crash.clone()), Step::Run]).journal(&journal),
        Scripted::running("third").journal(&journal),
    );
    let tree = serve(chain, &recorder).await;
    recorder.wait_for_line("root/chain: started third").await;
    journal.clear();
    crash.pull();
    recorder
        .wait_for_nth(2, |e| describe(e) == "root/chain: started third")
        .await;
    assert_eq!(
        journal.entries(),
        [
            "second ended",
            "third ended",
            "second started",
            "third started"
        ]
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn escalation_climbs_through_declared_parents() {
    let recorder = EventRecorder::new();
    let steady = Scripted::running("steady");
    let steady_probe = steady.probe();
    let holder = Holder::new(
        Fragile::new(Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run])),
        steady,
    );
    let tree = serve(holder, &recorder).await;
    recorder
        .wait_for_line("root/holder/fragile: escalated")
        .await;
    recorder
        .wait_for_line("root/holder: fragile failed, restarting now")
        .await;
    recorder
        .wait_for_nth(2, |e| describe(e) == "root/holder: started fragile")
        .await;
    assert_eq!(
        steady_probe.starts(),
        1,
        "one_for_one: `steady` is left alone"
    );
    tree.shutdown().await.unwrap();
}

supervisor! {
    struct Overrides {
        plain: Derived,
        #[child(restart = permanent, shutdown = abort, name = "renamed")]
        tuned: Derived,
        pool: Supervisor,
    }
}

#[tokio::test(start_paused = true)]
async fn child_options_override_the_derive_defaults_and_a_dynamic_supervisor_fits() {
    let journal = Journal::new();
    let pool = Supervisor::builder("pool").build().unwrap();
    pool.add(Scripted::running("worker").journal(&journal))
        .unwrap();
    let declared = Overrides::new(
        Derived {
            journal: journal.clone(),
        },
        Derived {
            journal: journal.clone(),
        },
        pool,
    );
    let spec: ChildSpec = Derived {
        journal: Journal::new(),
    }
    .child_spec();
    assert_eq!(spec.get_restart(), Restart::Transient);
    assert_eq!(
        spec.get_shutdown(),
        Some(Shutdown::Timeout(Duration::from_secs(7)))
    );

    let handle = declared.handle().supervisor();
    let recorder = EventRecorder::new();
    let tree = serve(declared, &recorder).await;
    recorder
        .wait_for_line("root/overrides/pool: started worker")
        .await;
    let children = handle.children().await.unwrap();
    let summary: Vec<(String, Restart)> = children
        .iter()
        .map(|c| (c.name.clone(), c.restart))
        .collect();
    assert_eq!(
        summary,
        [
            ("plain".to_owned(), Restart::Transient),
            ("renamed".to_owned(), Restart::Permanent),
            ("pool".to_owned(), Restart::Permanent),
        ]
    );
    assert!(children[2].is_supervisor());
    let printed = handle.tree().await.unwrap().to_string();
    assert!(printed.contains("worker"), "{printed}");
    tree.shutdown().await.unwrap();
    // `renamed` has no stop budget (`abort`): it never reaches its own "ended".
    assert_eq!(
        journal.entries(),
        [
            "derived started",
            "derived started",
            "worker started",
            "worker ended",
            "derived ended"
        ]
    );
}
