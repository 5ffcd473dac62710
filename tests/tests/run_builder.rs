//! `suture::Runner` in-process: triggers, `on_ready`, exit statuses of a failed or panicking
//! root, and dropping `run`'s future. (Signals and forced exits, which end the process, are
//! in `run_process.rs`.)

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use suture::{ChildSpec, Context, Runner, ServiceError, Supervisor, SupervisorHandle, service_fn};
use suture_tests::idle;
use tokio::sync::oneshot;

/// Only turns a hang into a failure; never waited out.
const BOUND: Duration = Duration::from_secs(20);

fn runner() -> Runner {
    Runner::new().default_logging(false)
}

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("done within the bound")
}

#[test]
fn the_runner_and_its_future_are_send() {
    fn is_send<T: Send>(_: &T) {}
    is_send(&Runner::new());
    let app = Supervisor::builder("app").build().unwrap();
    is_send(&Runner::new().run(app));
}

#[tokio::test]
async fn every_shutdown_on_trigger_counts_not_only_the_last() {
    let app = Supervisor::builder("app").build().unwrap();
    app.add(idle("worker")).unwrap();
    let (first, first_rx) = oneshot::channel::<()>();
    let code = bounded(
        runner()
            .shutdown_on(async move {
                let _ = first_rx.await;
            })
            .shutdown_on(std::future::pending())
            .on_ready(move |_| {
                let _ = first.send(());
            })
            .run(app),
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS);
}

#[tokio::test]
async fn on_ready_is_not_called_when_shutdown_comes_before_the_start_up_completes() {
    let app = Supervisor::builder("app").build().unwrap();
    // Started, but never ready: the root's start-up never completes.
    let (started, started_rx) = oneshot::channel::<()>();
    let mut started = Some(started);
    app.add_with(
        service_fn("db", move |ctx: Context| {
            let started = started.take();
            async move {
                if let Some(started) = started {
                    let _ = started.send(());
                }
                ctx.cancelled().await;
                Ok(())
            }
        }),
        ChildSpec::new().ready_within(Duration::from_secs(3600)),
    )
    .unwrap();
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let code = bounded(
        runner()
            .on_ready(move |_| flag.store(true, Ordering::SeqCst))
            .shutdown_on(async move {
                let _ = started_rx.await;
            })
            .run(app),
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(!called.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_root_that_is_not_a_supervisor_runs_without_on_ready() {
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let root = service_fn("solo", |ctx: Context| async move {
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    });
    let _ = stop.send(());
    let code = bounded(
        runner()
            .on_ready(move |_: SupervisorHandle| flag.store(true, Ordering::SeqCst))
            .shutdown_on(async move {
                let _ = stop_rx.await;
            })
            .run(root),
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(!called.load(Ordering::SeqCst), "no handle to give");
}

#[tokio::test]
async fn a_root_that_fails_or_panics_gives_failure() {
    let failing = service_fn("failing", |_ctx: Context| async {
        Err(ServiceError::msg("broken"))
    });
    assert_eq!(bounded(runner().run(failing)).await, ExitCode::FAILURE);
    let panicking = service_fn("panicking", |_ctx: Context| async {
        panic!("root panicked on purpose")
    });
    assert_eq!(bounded(runner().run(panicking)).await, ExitCode::FAILURE);
}

#[tokio::test]
async fn dropping_the_future_of_run_aborts_the_tree() {
    struct OnDrop(Option<oneshot::Sender<()>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
    let (dropped, dropped_rx) = oneshot::channel();
    let mut guard = Some(OnDrop(Some(dropped)));
    let app = Supervisor::builder("app").build().unwrap();
    // Ignores cancellation: only an abort ends it.
    app.add(service_fn("stubborn", move |_ctx: Context| {
        let guard = guard.take();
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        }
    }))
    .unwrap();
    let (up, up_rx) = oneshot::channel();
    let run = runner()
        .on_ready(move |_| {
            let _ = up.send(());
        })
        .run(app);
    tokio::select! {
        _ = run => panic!("the tree has no reason to end"),
        _ = up_rx => {}
    }
    // `run`'s future is gone: its tree goes with it.
    bounded(dropped_rx).await.expect("the service was dropped");
}
