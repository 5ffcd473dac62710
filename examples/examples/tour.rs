//! A guided tour of suture in about five seconds: a declared tree that crashes and heals.
//!
//! Run it with `cargo run --example tour`. It shows, on a human-readable console:
//! a service crashing and being restarted, a crash loop entering backoff and resuming,
//! a one_for_all group restarting together, a service that ignores cancellation being
//! aborted after its budget, one listener restarted by hand through the tree's typed
//! handle, and a graceful shutdown in reverse start order. It prints
//! the live tree at a few points, then exits 0.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use suture::{Context, Service, ServiceError, ServiceResult, SupervisorHandle, supervisor};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

supervisor! {
    /// The whole application. Children start top to bottom (the database first: it must be
    /// ready before the others start) and stop bottom to top.
    #[supervisor(intensity = 4 / 10s, backoff = 2s, jitter = 10%, shutdown = 500ms)]
    struct App {
        #[child(ready = 1s)]
        database: Database,
        cache: Cache,
        feed: Feed,
        listeners: Listeners,
        /// Ignores cancellation: aborted at its next `.await` after its 300 ms budget.
        #[child(shutdown = 300ms)]
        stubborn: Stubborn,
        migrate: Migrate,
    }

    /// A pair that restarts together: when `https` fails, `http` is stopped and both start
    /// again. If they keep failing, the group gives up and its parent decides.
    #[supervisor(strategy = one_for_all, on_exceeded = escalate, intensity = 3 / 10s)]
    struct Listeners {
        http: Listener,
        https: Listener,
    }
}

/// Ready after a short start-up.
#[derive(Service)]
struct Database;

impl Database {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        sleep(Duration::from_millis(200)).await; // "connecting"
        ctx.ready();
        stop_when_told(&ctx).await
    }
}

/// Panics once, 300 ms in; the restarted incarnation stays up.
#[derive(Service)]
struct Cache {
    runs: u32,
}

impl Cache {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        self.runs += 1;
        if self.runs == 1 {
            sleep(Duration::from_millis(300)).await;
            panic!("cache index corrupted");
        }
        stop_when_told(&ctx).await
    }
}

/// Fails five times in a row: the supervisor's intensity (4) is exceeded, restarts pause for
/// the backoff, then resume and the feed recovers.
#[derive(Service)]
struct Feed {
    runs: u32,
}

impl Feed {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        self.runs += 1;
        if self.runs <= 5 {
            sleep(Duration::from_millis(100)).await;
            return Err(ServiceError::msg("upstream refused the connection"));
        }
        stop_when_told(&ctx).await
    }
}

/// Serves until told to stop; fails once after `fail_after`, if set.
#[derive(Service)]
struct Listener {
    fail_after: Option<Duration>,
}

impl Listener {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        if let Some(after) = self.fail_after.take() {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                _ = sleep(after) => return Err(ServiceError::msg("certificate expired")),
            }
        }
        stop_when_told(&ctx).await
    }
}

#[derive(Service)]
struct Stubborn;

impl Stubborn {
    async fn run(&mut self, _ctx: Context) -> ServiceResult {
        loop {
            sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A transient job: finishes normally and is not restarted.
#[derive(Service)]
#[service(restart = transient)]
struct Migrate;

impl Migrate {
    async fn run(&mut self, _ctx: Context) -> ServiceResult {
        sleep(Duration::from_millis(100)).await;
        Ok(())
    }
}

/// Runs until told to stop, then says so: the shutdown order shows in the log.
async fn stop_when_told(ctx: &Context) -> ServiceResult {
    ctx.cancelled().await;
    tracing::info!(path = ctx.path(), "stopped cleanly");
    Ok(())
}

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

    let app = App::new(
        Database,
        Cache { runs: 0 },
        Feed { runs: 0 },
        Listeners::new(
            Listener { fail_after: None },
            Listener {
                fail_after: Some(Duration::from_millis(2500)),
            },
        ),
        Stubborn,
        Migrate,
    );
    // The typed handle: one method per field, usable before, while and after the tree runs.
    let typed = app.handle();
    let handle = typed.supervisor();
    println!("== start order: {:?}", App::START_ORDER);
    println!("== stop order:  {:?}", App::STOP_ORDER);
    let stop = CancellationToken::new();
    let running = tokio::spawn(serve(app, stop.clone()));
    sleep(Duration::from_millis(50)).await;
    // Answered once start-up is over: the supervisor starts its children before anything else.
    show(
        &handle,
        "once the database was ready and the others had started",
    )
    .await;

    sleep(Duration::from_millis(1250)).await;
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

    // Reach one child through its typed path and restart it by hand, as an operator would:
    // only `http` restarts (its one_for_all sibling is untouched) and nothing is counted.
    let http = typed.listeners().http();
    match http.restart().await {
        Ok(()) => println!(
            "\n== restarted `{}` by hand",
            http.path().await.unwrap_or_default()
        ),
        Err(error) => println!("\n== could not restart `{}`: {error}", http.name()),
    }

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

/// Serves the tree as a root until `stop` is cancelled (what `suture::run` does on Ctrl-C).
async fn serve(mut app: App, stop: CancellationToken) -> ServiceResult {
    app.serve(Context::new(stop)).await
}

async fn show(handle: &SupervisorHandle, when: &str) {
    match handle.tree().await {
        Ok(tree) => println!("\n== the tree, {when}:\n{tree}\n"),
        Err(error) => println!("\n== no tree {when}: {error}"),
    }
}
