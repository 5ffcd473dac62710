//! 04: dynamic children through a handle.
//!
//! A `SupervisorHandle` adds, removes and inspects children while the supervisor runs.
//! Misuse is a typed error, never a panic.
//! Run with `cargo run --example 04_dynamic_children`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::time::Duration;

use suture::{Context, ShutdownOrder, Supervisor, SupervisorError, service_fn};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A pool of many similar children stops all at once rather than one by one.
    let pool = Supervisor::builder("pool")
        .shutdown_order(ShutdownOrder::Concurrent)
        .build()?;
    let handle = pool.handle();
    let stop = CancellationToken::new();
    let running = pool.serve_background(Context::new(stop.clone())).await;

    let mut tokens = Vec::new();
    for i in 0..3 {
        let token = handle.add(service_fn(format!("job-{i}"), |ctx: Context| async move {
            ctx.cancelled().await;
            Ok(())
        }))?;
        tokens.push(token);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    println!("{}", handle.tree().await?);

    handle
        .remove_and_wait(tokens[1], Duration::from_secs(1))
        .await?;
    println!(
        "removed job-1; children now: {}",
        handle.children().await?.len()
    );

    // Removing twice is an error, not a panic.
    match handle.remove(tokens[1]).await {
        Err(SupervisorError::UnknownChild { .. }) => println!("second remove: unknown child"),
        other => println!("unexpected: {other:?}"),
    }

    stop.cancel();
    running.await??;
    // A stopped supervisor refuses new children.
    let late = handle.add(service_fn("late", |_ctx: Context| async move { Ok(()) }));
    println!("add after stop: {late:?}");
    Ok(())
}
