//! Fitting in: the `tokio-util` types of `Context`'s API come from `suture` itself, and a
//! `'static` cancellation future can be handed to code that keeps it (a spawned task here,
//! axum's `with_graceful_shutdown` in a real program).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use suture::testing::Running;
use suture::{CancellationToken, Context, Supervisor, WaitForCancellationFutureOwned, service_fn};

/// What a server library asks for: a future it may keep as long as it likes.
fn serve_until(shutdown: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
    tokio::spawn(shutdown)
}

#[tokio::test(start_paused = true)]
async fn an_owned_cancellation_future_outlives_the_context_and_fires_at_shutdown() {
    let drained = Arc::new(AtomicBool::new(false));
    let seen = drained.clone();
    let sup = Supervisor::builder("app").build().unwrap();
    sup.add(service_fn("http", move |ctx: Context| {
        let drained = seen.clone();
        async move {
            let shutdown: WaitForCancellationFutureOwned = ctx.cancelled_owned();
            let server = serve_until(async move {
                shutdown.await;
                drained.store(true, Ordering::SeqCst);
            });
            drop(ctx);
            server.await.map_err(suture::ServiceError::new)
        }
    }))
    .unwrap();
    let tree = Running::start(sup).await;
    assert!(!drained.load(Ordering::SeqCst));
    tree.shutdown().await.unwrap();
    assert!(
        drained.load(Ordering::SeqCst),
        "the server saw the shutdown"
    );

    // The re-exported token is the one `Context` takes.
    let token = CancellationToken::new();
    let ctx = Context::new(token.clone());
    token.cancel();
    ctx.cancelled_owned().await;
}
