//! A first end-to-end check of the runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use suture::{Context, ServiceError, Supervisor, service_fn};
use tokio_util::sync::CancellationToken;

#[tokio::test(start_paused = true)]
async fn failing_child_restarts_then_tree_stops() {
    let starts = Arc::new(AtomicU32::new(0));
    let counted = starts.clone();
    let sup = Supervisor::builder("app").build().unwrap();
    sup.add(service_fn("flaky", move |ctx: Context| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 3 {
                return Err(ServiceError::msg("boom"));
            }
            if n == 3 {
                panic!("kaboom");
            }
            ctx.cancelled().await;
            Ok(())
        }
    }))
    .unwrap();
    let handle = sup.handle();
    let stop = CancellationToken::new();
    let task = sup.serve_background(Context::new(stop.clone())).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(starts.load(Ordering::SeqCst), 5);
    let children = handle.children().await.unwrap();
    assert_eq!(children[0].restarts, 4);
    let tree = handle.tree().await.unwrap().to_string();
    assert!(tree.contains("flaky"), "{tree}");
    stop.cancel();
    task.await.unwrap().unwrap();
    assert!(handle.is_finished());
}
