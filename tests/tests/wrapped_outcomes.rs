//! `DoNotRestart` and `TerminateTree` keep their meaning when wrapped, as Go's `errors.Is`
//! finds them: the supervisor treats a wrapped outcome as the outcome itself.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use suture::testing::{EventRecorder, Running, describe};
use suture::{BoxError, EventKind, OnExceeded, ServiceError, Supervisor, service_fn};

/// A user error whose cause is another error, as `#[source]` makes one.
#[derive(Debug)]
struct Shutdown(BoxError);

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("license revoked")
    }
}

impl std::error::Error for Shutdown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

#[tokio::test(start_paused = true)]
async fn a_wrapped_do_not_restart_is_not_restarted() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    let starts = Arc::new(AtomicU64::new(0));
    let counted = starts.clone();
    sup.add(service_fn("svc", move |_ctx| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Err(ServiceError::new(ServiceError::do_not_restart())) }
    }))
    .unwrap();
    let handle = sup.handle();
    let tree = Running::start(sup).await;
    let ended = recorder
        .wait_for(|e| matches!(e.kind, EventKind::Terminated { .. }))
        .await;
    assert_eq!(describe(&ended), "app: svc returned, no restart");
    suture::testing::settle().await;
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert!(
        handle.children().await.unwrap().is_empty(),
        "svc is forgotten"
    );
    tree.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_terminate_tree_deep_in_a_source_chain_terminates_the_tree() {
    // Escalates if the outcome is taken for a failure, rather than retrying forever.
    let sup = Supervisor::builder("app")
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    sup.add(service_fn("svc", |_ctx| async {
        let outcome: BoxError = ServiceError::terminate_tree().into();
        Err(Shutdown(Box::new(Shutdown(outcome))).into())
    }))
    .unwrap();
    let error = Running::start(sup).await.join().await.unwrap_err();
    assert!(error.is_terminate_tree(), "{error}");
}
