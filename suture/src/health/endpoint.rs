//! [`HealthEndpoint`]: the tree's health over HTTP, for Kubernetes' probes.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::assess::{assess, loop_answers};
use crate::context::Context;
use crate::error::{ServiceError, ServiceResult};
use crate::service::Service;
use crate::supervisor::SupervisorHandle;

/// How long a probe waits for the root's loop to answer.
const ANSWER_WITHIN: Duration = Duration::from_millis(500);

/// How long a connection may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 256;

/// A service serving `/livez`, `/readyz` and `/tree` over HTTP/1.1 for a supervisor (usually
/// the root), to add to the tree it reports on. See the [module](crate::health) for what each path
/// answers.
///
/// It binds [`DEFAULT_ADDR`](Self::DEFAULT_ADDR) (loopback, port 8081) unless told otherwise
/// with [`bind`](Self::bind) (e.g. `0.0.0.0:8081` for the kubelet to reach it) or given a
/// bound [`listener`](Self::listener). It says it is ready once it listens, so a
/// [`ready_within`](crate::ChildSpec::ready_within) spec holds the next children until then;
/// failing to bind is an error of the service, restarted like any other. Added first, it
/// stops last: probes keep their answers (503 from `/readyz` while the tree stops) until the
/// end.
///
/// # Examples
///
/// ```no_run
/// use suture::health::HealthEndpoint;
/// use suture::{service_fn, Supervisor};
///
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     let app = Supervisor::builder("app").build().unwrap();
///     app.add(HealthEndpoint::new(app.handle()).bind(([0, 0, 0, 0], 8081)))
///         .unwrap();
///     app.add(service_fn("worker", |ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }))
///     .unwrap();
///     suture::run(app).await
/// }
/// ```
pub struct HealthEndpoint {
    root: SupervisorHandle,
    listen: Listen,
}

enum Listen {
    Bind(SocketAddr),
    Listener(std::net::TcpListener),
}

impl HealthEndpoint {
    /// Where it listens unless told otherwise: `127.0.0.1:8081` (the port of Dropwizard's
    /// admin interface).
    pub const DEFAULT_ADDR: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081));

    /// An endpoint reporting on the tree of `root`, to listen on
    /// [`DEFAULT_ADDR`](Self::DEFAULT_ADDR).
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::health::HealthEndpoint;
    /// use suture::Supervisor;
    ///
    /// let app = Supervisor::builder("app").build().unwrap();
    /// app.add(HealthEndpoint::new(app.handle())).unwrap();
    /// ```
    pub fn new(root: SupervisorHandle) -> Self {
        HealthEndpoint {
            root,
            listen: Listen::Bind(Self::DEFAULT_ADDR),
        }
    }

    /// Listens on `addr`, bound anew at each start.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::health::HealthEndpoint;
    /// use suture::Supervisor;
    ///
    /// let app = Supervisor::builder("app").build().unwrap();
    /// // Every interface, for the kubelet's probes.
    /// app.add(HealthEndpoint::new(app.handle()).bind(([0, 0, 0, 0], 8081)))
    ///     .unwrap();
    /// ```
    pub fn bind(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.listen = Listen::Bind(addr.into());
        self
    }

    /// Serves on a listener bound already (a port chosen by the system, a socket handed over
    /// by systemd), kept across restarts. It is made non-blocking when served.
    ///
    /// # Examples
    ///
    /// ```
    /// use suture::health::HealthEndpoint;
    /// use suture::Supervisor;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// let app = Supervisor::builder("app").build().unwrap();
    /// app.add(HealthEndpoint::new(app.handle()).listener(listener)).unwrap();
    /// # let _ = port;
    /// ```
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listen = Listen::Listener(listener);
        self
    }

    async fn listen(&self) -> io::Result<TcpListener> {
        match &self.listen {
            Listen::Bind(addr) => TcpListener::bind(addr).await.map_err(|error| {
                io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"))
            }),
            Listen::Listener(listener) => {
                let listener = listener.try_clone()?;
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)
            }
        }
    }
}

impl Service for HealthEndpoint {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        let listener = self.listen().await.map_err(ServiceError::new)?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(target: "suture", address = %addr, "health endpoint listening");
        }
        ctx.ready();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        // Dropped on return: the connections still open are aborted with it.
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            if connections.len() >= MAX_CONNECTIONS {
                tokio::select! {
                    () = ctx.cancelled() => return Ok(()),
                    _ = connections.join_next() => continue,
                }
            }
            let stream = tokio::select! {
                () = ctx.cancelled() => return Ok(()),
                accepted = listener.accept() => accepted.map_err(ServiceError::new)?.0,
            };
            let root = self.root.clone();
            let connection = http.serve_connection(
                TokioIo::new(stream),
                hyper::service::service_fn(move |request: Request<Incoming>| {
                    let root = root.clone();
                    async move {
                        Ok::<_, Infallible>(
                            respond(&root, request.method(), request.uri().path()).await,
                        )
                    }
                }),
            );
            connections.spawn(async move {
                // A client going away mid-request is its own business.
                let _ = connection.await;
            });
        }
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("health")
    }
}

impl fmt::Debug for HealthEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("HealthEndpoint");
        debug.field("root", &self.root.name());
        match &self.listen {
            Listen::Bind(addr) => debug.field("bind", addr),
            Listen::Listener(listener) => debug.field("listener", listener),
        };
        debug.finish()
    }
}

/// The answer to one request.
async fn respond(root: &SupervisorHandle, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let route = match path {
        "/livez" => Route::Live,
        "/readyz" => Route::Ready,
        "/tree" => Route::Tree,
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found; try /livez, /readyz or /tree\n".to_owned(),
            );
        }
    };
    if method != Method::GET && method != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed; use GET\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    const NO_ANSWER: &str = "the root's loop does not answer\n";
    match route {
        Route::Live => {
            if loop_answers(root, ANSWER_WITHIN).await {
                text(StatusCode::OK, "ok\n".to_owned())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, NO_ANSWER.to_owned())
            }
        }
        // The supervisors keep their health up to date: a healthy tree needs no snapshot,
        // only the sign that the root's loop still answers (a stalled loop keeps its last
        // health). The snapshot, a walk of the whole tree, is for naming what is not well.
        Route::Ready if root.health().is_healthy() => {
            if loop_answers(root, ANSWER_WITHIN).await {
                text(StatusCode::OK, "ok\n".to_owned())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, NO_ANSWER.to_owned())
            }
        }
        Route::Ready => match tokio::time::timeout(ANSWER_WITHIN, root.tree()).await {
            Ok(Ok(tree)) => {
                let assessment = assess(&tree);
                if assessment.is_healthy() {
                    return text(StatusCode::OK, "ok\n".to_owned());
                }
                text(StatusCode::SERVICE_UNAVAILABLE, assessment.not_ready())
            }
            Ok(Err(error)) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {error}\n"),
            ),
            Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, NO_ANSWER.to_owned()),
        },
        Route::Tree => match tokio::time::timeout(ANSWER_WITHIN, root.tree()).await {
            Ok(Ok(tree)) => text(StatusCode::OK, format!("{tree}\n")),
            Ok(Err(error)) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")),
            Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, NO_ANSWER.to_owned()),
        },
    }
}

enum Route {
    Live,
    Ready,
    Tree,
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
