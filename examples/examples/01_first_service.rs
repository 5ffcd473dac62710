//! 01: a first service under a supervisor.
//!
//! A service is a value with an async `serve(&mut self, ctx)`. The supervisor restarts the
//! *same value* when it fails, so the service resets its state at the top of `serve`.
//! Run with `cargo run --example 01_first_service`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::time::Duration;

use suture::{Context, Service, ServiceError, ServiceResult, Supervisor};
use tokio_util::sync::CancellationToken;

/// Counts to three, failing the first two times it runs.
struct Counter {
    attempt: u32,
}

impl Service for Counter {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        self.attempt += 1;
        println!("{}: attempt {}", ctx.path(), self.attempt);
        if self.attempt < 3 {
            return Err(ServiceError::msg("not yet"));
        }
        ctx.cancelled().await;
        println!("{}: told to stop", ctx.path());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Supervisor::builder("app").build()?;
    app.add(Counter { attempt: 0 })?;
    let handle = app.handle();

    let stop = CancellationToken::new();
    let running = app.serve_background(Context::new(stop.clone())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!("{}", handle.tree().await?);

    stop.cancel();
    running.await??;
    Ok(())
}
