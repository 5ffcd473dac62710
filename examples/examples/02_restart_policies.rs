//! 02: restart types and strategies.
//!
//! `Permanent` children always restart, `Transient` ones only after a failure, `Temporary`
//! ones never. With `OneForAll`, one child's failure restarts its siblings too.
//! Run with `cargo run --example 02_restart_policies`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use suture::{
    ChildSpec, Context, Event, EventKind, Restart, ServiceError, Strategy, Supervisor, service_fn,
};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Supervisor::builder("pipeline")
        .strategy(Strategy::OneForAll)
        .event_hook(|event: &Event| match &event.kind {
            EventKind::Started { service, restarts } => {
                println!("started {service} (restarts so far: {restarts})");
            }
            EventKind::Terminated {
                service,
                error,
                restarting,
                ..
            } => {
                println!("{service} ended ({error:?}); restarting: {restarting:?}");
            }
            _ => {}
        })
        .build()?;

    // Finishes normally: as Transient it is not restarted.
    app.add_with(
        service_fn("warm-up", |_ctx: Context| async move { Ok(()) }),
        ChildSpec::new().restart(Restart::Transient),
    )?;
    // Waits for work; restarted whenever the group restarts.
    app.add(service_fn("reader", |ctx: Context| async move {
        ctx.cancelled().await;
        Ok(())
    }))?;
    // Fails once: with OneForAll the reader restarts with it.
    let runs = Arc::new(AtomicU32::new(0));
    app.add(service_fn("writer", move |ctx: Context| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run == 0 {
                return Err(ServiceError::msg("disk full"));
            }
            ctx.cancelled().await;
            Ok(())
        }
    }))?;

    let handle = app.handle();
    let stop = CancellationToken::new();
    let running = app.serve_background(Context::new(stop.clone())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!("{}", handle.tree().await?);
    stop.cancel();
    running.await??;
    Ok(())
}
