//! The tree's health in an existing axum router: `/livez` and `/readyz` read
//! [`SupervisorHandle::health`](suture::SupervisorHandle::health), a cheap read kept up to
//! date by the supervisors, beside the application's own routes. The server is itself a
//! service of the tree it reports on.
//!
//! ```text
//! cargo run --example axum_health            # on 127.0.0.1:3000; Ctrl-C stops it
//! cargo run --example axum_health -- --demo  # asks itself, then stops
//! ```
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use suture::{Context, Runner, Service, ServiceError, ServiceResult, Supervisor, SupervisorHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// 200 while the root's loop keeps its health; the health says whether it is whole.
async fn livez(State(root): State<SupervisorHandle>) -> (StatusCode, &'static str) {
    if root.is_running() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "stopped\n")
    }
}

/// 200 when every service runs (and is ready); else 503 naming the paths that do not.
async fn readyz(State(root): State<SupervisorHandle>) -> (StatusCode, String) {
    let health = root.health();
    if health.is_healthy() {
        return (StatusCode::OK, "ok\n".into());
    }
    let mut body = format!("not ready: {}\n", health.label());
    for path in health.unhealthy() {
        body.push_str(path);
        body.push('\n');
    }
    (StatusCode::SERVICE_UNAVAILABLE, body)
}

/// The web server: the application's routes and the probes, on one listener.
struct Web {
    listener: Option<std::net::TcpListener>,
    root: SupervisorHandle,
}

impl Service for Web {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        // The listener is bound once, by `main`, and kept across restarts.
        let listener = match &self.listener {
            Some(listener) => listener.try_clone().map_err(ServiceError::new)?,
            None => return Err(ServiceError::msg("no listener")),
        };
        let listener = TcpListener::from_std(listener).map_err(ServiceError::new)?;
        let app = Router::new()
            .route("/", get(|| async { "hello\n" }))
            .route("/livez", get(livez))
            .route("/readyz", get(readyz))
            .with_state(self.root.clone());
        ctx.ready();
        axum::serve(listener, app)
            .with_graceful_shutdown(ctx.cancelled_owned())
            .await
            .map_err(ServiceError::new)
    }

    fn name(&self) -> std::borrow::Cow<'static, str> {
        "web".into()
    }
}

/// Asks `path` of the server on `port` (HTTP/1.1, one request), and prints the answer.
async fn ask(port: u16, path: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let status = answer.lines().next().unwrap_or_default();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    print!("GET {path} -> {status}\n{body}");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let demo = std::env::args().any(|arg| arg == "--demo");
    let address = if demo {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    };
    let listener = match std::net::TcpListener::bind(address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let _ = listener.set_nonblocking(true);
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    println!("serving on http://127.0.0.1:{port}");

    let app = Supervisor::builder("app").build().expect("valid settings");
    let web = Web {
        listener: Some(listener),
        root: app.handle(),
    };
    app.add_with(
        web,
        suture::ChildSpec::new().ready_within(Duration::from_secs(5)),
    )
    .expect("not stopped");

    let mut runner = Runner::new();
    if demo {
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        runner = runner
            .on_ready(move |_root| {
                tokio::spawn(async move {
                    for path in ["/", "/livez", "/readyz"] {
                        if let Err(error) = ask(port, path).await {
                            eprintln!("GET {path}: {error}");
                        }
                    }
                    let _ = done.send(());
                });
            })
            .shutdown_on(async move {
                let _ = finished.await;
            });
    }
    runner.run(app).await
}
