//! A program that runs a tree with `suture::run`, for `tests/run_process.rs` to drive with
//! real signals. The mode (first argument) picks the tree; lines on stdout tell the test
//! where the program is, so that it never has to guess with a sleep.
#![allow(
    clippy::print_stdout,
    reason = "stdout is how the probe talks to the test"
)]

use std::process::ExitCode;
use std::time::Duration;

use suture::{
    ChildSpec, Context, OnExceeded, Runner, ServiceError, Supervisor, SupervisorHandle, service_fn,
};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut runtime = if mode == "blocking-current-thread" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        // Two workers, whatever the machine: one for a blocking service, one for the tree.
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    };
    let runtime = runtime.enable_all().build().expect("a runtime");
    runtime.block_on(probe(&mode))
}

async fn probe(mode: &str) -> ExitCode {
    let on_ready = |app: SupervisorHandle| println!("on_ready {}", app.name());
    match mode {
        // Up (a ready-gated child first), then a clean stop at the first signal.
        "clean" => {
            let app = supervisor(Duration::from_secs(10));
            let db = service_fn("db", |ctx: Context| async move {
                println!("db ready");
                ctx.ready();
                ctx.cancelled().await;
                println!("db stopped");
                Ok(())
            });
            app.add_with(db, ChildSpec::new().ready_within(Duration::from_secs(10)))
                .expect("added");
            Runner::new().on_ready(on_ready).run(app).await
        }
        // The root exceeds its intensity at once and escalates: the root failed.
        "escalate" => {
            let app = Supervisor::builder("app")
                .intensity(1, Duration::from_secs(30))
                .on_exceeded(OnExceeded::Escalate)
                .build()
                .expect("valid settings");
            app.add(service_fn("flaky", |_ctx: Context| async {
                Err(ServiceError::msg("always fails"))
            }))
            .expect("added");
            suture::run(app).await
        }
        // A child asks for the whole tree to stop: the root returns `TerminateTree`.
        "terminate" => {
            let app = supervisor(Duration::from_secs(10));
            app.add(service_fn("quitter", |_ctx: Context| async {
                Err(ServiceError::terminate_tree())
            }))
            .expect("added");
            suture::run(app).await
        }
        // Stops when a line (or EOF) arrives on stdin, with no signal.
        "custom" => {
            let app = supervisor(Duration::from_secs(10));
            app.add(idle("worker")).expect("added");
            let (line_tx, line_rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::spawn(move || {
                let _ = std::io::stdin().read_line(&mut String::new());
                let _ = line_tx.send(());
            });
            Runner::new()
                .on_ready(on_ready)
                .shutdown_on(async move {
                    let _ = line_rx.await;
                })
                .run(app)
                .await
        }
        // A child that takes a minute to stop (well within its budget): the test forces the
        // exit with a second signal.
        "slow" => {
            let app = supervisor(Duration::from_secs(120));
            app.add(service_fn("slow", |ctx: Context| async move {
                ctx.cancelled().await;
                println!("stopping");
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }))
            .expect("added");
            Runner::new().on_ready(on_ready).run(app).await
        }
        // A child that blocks its thread and never looks at cancellation.
        "blocking" | "blocking-current-thread" => {
            let app = supervisor(Duration::from_millis(200));
            app.add(service_fn("blocker", |_ctx: Context| async {
                println!("blocking");
                loop {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }))
            .expect("added");
            if mode == "blocking" {
                Runner::new().on_ready(on_ready).run(app).await
            } else {
                // The blocker may take the only thread before the callback could run.
                suture::run(app).await
            }
        }
        other => {
            eprintln!("run_probe: unknown mode `{other}`");
            ExitCode::from(2)
        }
    }
}

fn supervisor(shutdown: Duration) -> Supervisor {
    Supervisor::builder("app")
        .shutdown(shutdown)
        .build()
        .expect("valid settings")
}

fn idle(name: &'static str) -> impl suture::Service {
    service_fn(name, |ctx: Context| async move {
        ctx.cancelled().await;
        Ok(())
    })
}
