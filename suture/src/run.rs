//! [`run`]: serve a root service until SIGINT or SIGTERM, then shut it down gracefully.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::service::Service;

/// Runs `root` until it returns, or until Ctrl-C (SIGINT) or SIGTERM; then cancels it and
/// waits for its graceful shutdown. A second signal during the shutdown exits the process
/// at once (status 130).
///
/// Returns [`ExitCode::SUCCESS`] if the root returned `Ok(())` and, for a supervisor, every
/// service stopped; [`ExitCode::FAILURE`] otherwise (the reason is logged).
///
/// # Cancel safety
///
/// Dropping the future drops the tree: every task in it is aborted.
///
/// # Examples
///
/// ```no_run
/// use suture::{service_fn, Supervisor};
///
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     let app = Supervisor::builder("app").build().unwrap();
///     app.add(service_fn("worker", |ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .unwrap();
///     suture::run(app).await
/// }
/// ```
pub async fn run<S: Service>(mut root: S) -> ExitCode {
    let token = CancellationToken::new();
    let handle = root.__supervisor_handle();
    let serve = root.serve(Context::new(token.clone()));
    tokio::pin!(serve);
    let result = tokio::select! {
        result = &mut serve => result,
        () = shutdown_signal() => {
            tracing::info!(target: "suture", "shutdown requested; a second signal forces the exit");
            token.cancel();
            tokio::select! {
                result = &mut serve => result,
                () = shutdown_signal() => {
                    tracing::error!(target: "suture", "second signal: exiting without waiting for the tree");
                    std::process::exit(130);
                }
            }
        }
    };
    let unstopped = handle.map(|h| h.unstopped_services()).unwrap_or_default();
    for service in &unstopped {
        tracing::error!(target: "suture", path = %service.path, "service did not stop");
    }
    match result {
        Ok(()) if unstopped.is_empty() => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(error) => {
            tracing::error!(target: "suture", error = %format_args!("{error:#}"), "the tree ended with an error");
            ExitCode::FAILURE
        }
    }
}

/// Completes at the next SIGINT or SIGTERM (never, if neither can be listened to).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
