//! A guided tour of suture in about ten seconds: a tree that crashes and heals.
//!
//! Run it with `cargo run --example tour`. It shows, on a human-readable console:
//! a service crashing and being restarted, a crash loop entering backoff and resuming,
//! a one_for_all group restarting together, a service that ignores cancellation being
//! aborted after its budget, and a graceful shutdown in reverse start order. It prints
//! the live tree at a few points, then exits 0.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use suture::{
    ChildSpec, Context, OnExceeded, Restart, ServiceError, ServiceResult, Shutdown, Strategy,
    Supervisor, SupervisorHandle, service_fn,
};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false)
        .compact()
        .init();

    let app = match build_tree() {
        Ok(app) => app,
        Err(error) => {
            eprintln!("could not build the tree: {error}");
            return ExitCode::FAILURE;
        }
    };
    let handle = app.handle();
    let stop = CancellationToken::new();
    println!("== starting the tree (database first: the others wait for it to be ready)");
    let running = app.serve_background(Context::new(stop.clone())).await;
    show(&handle, "just started").await;

    sleep(Duration::from_millis(1500)).await;
    show(
        &handle,
        "after the cache crashed once and the flaky feed entered backoff",
    )
    .await;

    sleep(Duration::from_millis(2500)).await;
    show(
        &handle,
        "after the backoff ended and the listeners restarted together",
    )
    .await;

    println!("\n== shutting down: reverse start order; `stubborn` ignores cancellation");
    stop.cancel();
    let result = running.await;
    let unstopped = handle.unstopped_services();
    println!("\n== done: {result:?}; services that would not stop: {unstopped:?}");
    match result {
        Ok(Ok(())) if unstopped.is_empty() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

async fn show(handle: &SupervisorHandle, when: &str) {
    match handle.tree().await {
        Ok(tree) => println!("\n== the tree, {when}:\n{tree}\n"),
        Err(error) => println!("\n== no tree {when}: {error}"),
    }
}

/// Runs until told to stop, then says so: the shutdown order shows in the log.
async fn stop_when_told(ctx: &Context, name: &str) -> ServiceResult {
    ctx.cancelled().await;
    tracing::info!(path = ctx.path(), "{name} stopped cleanly");
    Ok(())
}

fn build_tree() -> Result<Supervisor, Box<dyn std::error::Error>> {
    let app = Supervisor::builder("app")
        .intensity(4, Duration::from_secs(10))
        .backoff(Duration::from_secs(2))
        .jitter(0.1)
        .shutdown(Duration::from_millis(500))
        .build()?;

    // Ready after a short start-up; everything after it waits for that.
    app.add_with(
        service_fn("database", |ctx: Context| async move {
            sleep(Duration::from_millis(200)).await; // "connecting"
            ctx.ready();
            stop_when_told(&ctx, "database").await
        }),
        ChildSpec::new().ready_within(Duration::from_secs(1)),
    )?;

    // Panics once, 300 ms in; the restarted incarnation stays up.
    let cache_runs = Arc::new(AtomicU32::new(0));
    app.add(service_fn("cache", move |ctx: Context| {
        let run = cache_runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run == 0 {
                sleep(Duration::from_millis(300)).await;
                panic!("cache index corrupted");
            }
            stop_when_told(&ctx, "cache").await
        }
    }))?;

    // Fails at once five times in a row: the supervisor's intensity (4) is exceeded,
    // restarts pause for the backoff, then resume and the feed recovers.
    let feed_runs = Arc::new(AtomicU32::new(0));
    app.add(service_fn("feed", move |ctx: Context| {
        let run = feed_runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run < 5 {
                sleep(Duration::from_millis(100)).await;
                return Err(ServiceError::msg("upstream refused the connection"));
            }
            stop_when_told(&ctx, "feed").await
        }
    }))?;

    app.add(listeners()?)?;

    // Ignores cancellation: aborted at its next `.await` after its 300 ms budget.
    app.add_with(
        service_fn("stubborn", |_ctx: Context| async move {
            loop {
                sleep(Duration::from_millis(50)).await;
            }
        }),
        ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_millis(300))),
    )?;

    // A transient job: finishes normally and is not restarted.
    app.add_with(
        service_fn("migrate", |_ctx: Context| async move {
            sleep(Duration::from_millis(100)).await;
            Ok(())
        }),
        ChildSpec::new().restart(Restart::Transient),
    )?;
    Ok(app)
}

/// A one_for_all pair: when `https` fails, `http` is stopped and both start again.
fn listeners() -> Result<Supervisor, Box<dyn std::error::Error>> {
    let listeners = Supervisor::builder("listeners")
        .strategy(Strategy::OneForAll)
        .on_exceeded(OnExceeded::Escalate)
        .intensity(3, Duration::from_secs(10))
        .build()?;
    listeners.add(service_fn("http", |ctx: Context| async move {
        stop_when_told(&ctx, "http").await
    }))?;
    let https_runs = Arc::new(AtomicU32::new(0));
    listeners.add(service_fn("https", move |ctx: Context| {
        let run = https_runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run == 0 {
                sleep(Duration::from_millis(2500)).await;
                return Err(ServiceError::msg("certificate expired"));
            }
            stop_when_told(&ctx, "https").await
        }
    }))?;
    Ok(listeners)
}
