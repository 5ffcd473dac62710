//! `suture::health::HealthEndpoint` served in a tree, probed by a real HTTP client (hyper's)
//! on an ephemeral loopback port: `/readyz` follows a child into backoff and out, `/livez`
//! stays up, bad paths and methods get 404 / 405, garbage gets 400, and a burst of requests
//! leaves the tree untouched; a stalled root loop fails `/livez`; a taken port fails the
//! endpoint with the address in its error.
//!
//! The clock is real (the sockets are), and nothing waits for time to pass: the test waits
//! for the supervisor's events, then asks; the supervisor's loop answers the endpoint's
//! questions in order after it emitted them. Every wait is bounded by [`DEADLINE`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use suture::health::HealthEndpoint;
use suture::testing::{EventRecorder, Running};
use suture::{ChildState, Context, EventKind, ServiceError, Supervisor, service_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Turns a hang into a failure; never waited out.
const DEADLINE: Duration = Duration::from_secs(60);

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what} within {DEADLINE:?}"))
}

/// One keep-alive HTTP/1.1 connection.
struct Client {
    sender: SendRequest<Empty<Bytes>>,
}

struct Answer {
    status: StatusCode,
    allow: Option<String>,
    body: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = bounded("connect", TcpStream::connect(addr))
            .await
            .expect("the endpoint accepts");
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Client { sender }
    }

    async fn ask(&mut self, method: Method, path: &str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1")
            .body(Empty::new())
            .expect("a valid request");
        bounded("the connection ready", self.sender.ready())
            .await
            .unwrap_or_else(|e| panic!("{path}: the connection is gone: {e}"));
        let response = bounded(path, self.sender.send_request(request))
            .await
            .unwrap_or_else(|e| panic!("{path}: no response: {e}"));
        let status = response.status();
        let allow = response
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        Answer {
            status,
            allow,
            body: String::from_utf8(body.to_vec()).expect("utf-8"),
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let answer = self.ask(Method::GET, path).await;
        (answer.status, answer.body)
    }
}

/// A child that runs until told to fail, then fails at every start until told to stop.
struct Crasher {
    failing: Arc<AtomicBool>,
    now: Arc<Notify>,
}

impl Crasher {
    fn new() -> Crasher {
        Crasher {
            failing: Arc::new(AtomicBool::new(false)),
            now: Arc::new(Notify::new()),
        }
    }

    fn service(&self, name: &'static str) -> impl suture::Service {
        let (failing, now) = (self.failing.clone(), self.now.clone());
        service_fn(name, move |ctx: Context| {
            let (failing, now) = (failing.clone(), now.clone());
            async move {
                if !failing.load(Ordering::SeqCst) {
                    tokio::select! {
                        () = ctx.cancelled() => return Ok(()),
                        () = now.notified() => {}
                    }
                }
                Err(ServiceError::msg("feed lost its upstream"))
            }
        })
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
        if failing {
            self.now.notify_one();
        }
    }
}

fn idle(name: &'static str) -> impl suture::Service {
    service_fn(name, |ctx: Context| async move {
        ctx.cancelled().await;
        Ok(())
    })
}

/// `app` = [health, feed, db]: backs off for an hour past one failure.
struct Tree {
    running: Running,
    recorder: EventRecorder,
    addr: SocketAddr,
    crasher: Crasher,
    feed: suture::ChildToken,
}

async fn start() -> Tree {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let addr = listener.local_addr().expect("bound");
    let recorder = EventRecorder::new();
    let app = Supervisor::builder("app")
        .intensity(1, Duration::from_secs(3600))
        .backoff(Duration::from_secs(3600))
        .event_hook(recorder.hook())
        .build()
        .expect("valid settings");
    app.add(HealthEndpoint::new(app.handle()).listener(listener))
        .expect("added");
    let crasher = Crasher::new();
    let feed = app.add(crasher.service("feed")).expect("added");
    app.add(idle("db")).expect("added");
    let running = Running::start(app).await;
    // The last child started: the start-up is over.
    bounded(
        "db started",
        recorder.wait_for(
            |e| matches!(&e.kind, EventKind::Started { service, .. } if &**service == "db"),
        ),
    )
    .await;
    Tree {
        running,
        recorder,
        addr,
        crasher,
        feed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_a_child_into_backoff_and_out_while_livez_stays_up() {
    let tree = start().await;
    let mut client = Client::connect(tree.addr).await;
    assert_eq!(client.get("/readyz").await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));

    // Into backoff: not ready, naming the path; still alive.
    tree.crasher.fail(true);
    bounded(
        "the backoff",
        tree.recorder
            .wait_for(|e| matches!(e.kind, EventKind::BackoffStarted { .. })),
    )
    .await;
    assert_eq!(
        client.get("/readyz").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready:\napp/feed backing off\n".into()
        )
    );
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));
    let (status, printed) = client.get("/tree").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        printed.starts_with("app [backing off (not running: app/feed)]\n"),
        "{printed}"
    );
    assert!(
        printed.contains("feed [backed off, 1 restart, last error: feed lost its upstream]"),
        "{printed}"
    );
    assert!(printed.contains("health [running"), "{printed}");

    // Out of it: the operator restarts the child once its upstream is back.
    tree.crasher.fail(false);
    tree.running
        .handle
        .restart_child(tree.feed)
        .await
        .expect("restarted");
    assert_eq!(client.get("/readyz").await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));

    // Bad requests: typed answers, and the endpoint carries on.
    let missing = client.ask(Method::GET, "/healthz").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body, "not found; try /livez, /readyz or /tree\n");
    let posted = client.ask(Method::POST, "/readyz").await;
    assert_eq!(posted.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.allow.as_deref(), Some("GET, HEAD"));
    let head = client.ask(Method::HEAD, "/livez").await;
    assert_eq!((head.status, head.body.as_str()), (StatusCode::OK, ""));
    let queried = client.ask(Method::GET, "/readyz?verbose=1").await;
    assert_eq!(queried.status, StatusCode::OK);
    // Not HTTP at all: hyper answers 400 and closes; the endpoint is unaffected.
    let mut raw = TcpStream::connect(tree.addr).await.expect("connect");
    raw.write_all(b"\x00\x01 garbage \r\n\r\n")
        .await
        .expect("sent");
    let mut reply = Vec::new();
    bounded("the 400", raw.read_to_end(&mut reply))
        .await
        .expect("read");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));

    // The endpoint never restarted.
    let children = tree.running.handle.children().await.expect("answers");
    let health = children
        .iter()
        .find(|c| c.name == "health")
        .expect("listed");
    assert_eq!((health.state, health.restarts), (ChildState::Running, 0));
    tree.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_leaves_the_tree_untouched() {
    const CONNECTIONS: usize = 50;
    const PER_CONNECTION: usize = 200;
    let tree = start().await;
    let events_before = tree.recorder.events().len();
    let began = Instant::now();
    let clients = (0..CONNECTIONS).map(|i| {
        let addr = tree.addr;
        tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            for j in 0..PER_CONNECTION {
                let path = ["/livez", "/readyz", "/tree"][(i + j) % 3];
                let (status, _) = client.get(path).await;
                assert_eq!(status, StatusCode::OK, "{path}");
            }
        })
    });
    for client in futures_util::future::join_all(clients).await {
        client.expect("every request answered 200");
    }
    eprintln!(
        "{} requests from {CONNECTIONS} connections in {:?}",
        CONNECTIONS * PER_CONNECTION,
        began.elapsed()
    );
    // Untouched: no event since the start-up, every child running, nothing restarted.
    assert_eq!(tree.recorder.events().len(), events_before);
    let printed = tree.running.handle.tree().await.expect("answers");
    for child in &printed.children {
        assert_eq!(
            (child.state, child.restarts),
            (Some(ChildState::Running), 0),
            "{printed}"
        );
    }
    assert_eq!(
        Client::connect(tree.addr).await.get("/readyz").await,
        (StatusCode::OK, "ok\n".into())
    );
    tree.running.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livez_fails_while_the_roots_loop_is_stalled_and_recovers() {
    use std::sync::{Condvar, Mutex};

    /// Closed, it blocks the root's loop in its event hook until opened again.
    #[derive(Default)]
    struct Gate {
        closed: Mutex<bool>,
        opened: Condvar,
        blocked: Notify,
    }
    let gate = Arc::new(Gate::default());
    let hook_gate = gate.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let addr = listener.local_addr().expect("bound");
    let app = Supervisor::builder("app")
        .event_hook(move |_event| {
            let mut closed = hook_gate.closed.lock().expect("not poisoned");
            if *closed {
                hook_gate.blocked.notify_one();
            }
            while *closed {
                closed = hook_gate.opened.wait(closed).expect("not poisoned");
            }
        })
        .build()
        .expect("valid settings");
    app.add(HealthEndpoint::new(app.handle()).listener(listener))
        .expect("added");
    let idle = app.add(idle("db")).expect("added");
    let tree = Running::start(app).await;
    let mut client = Client::connect(addr).await;
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));

    // Stall the loop: its next event (restarting `db`) blocks in the hook.
    *gate.closed.lock().expect("not poisoned") = true;
    let handle = tree.handle.clone();
    let restart = tokio::spawn(async move { handle.restart_child(idle).await });
    bounded("the loop to stall", gate.blocked.notified()).await;
    let stalled = "the root's loop does not answer\n".to_owned();
    assert_eq!(
        client.get("/livez").await,
        (StatusCode::SERVICE_UNAVAILABLE, stalled.clone())
    );
    assert_eq!(
        client.get("/readyz").await,
        (StatusCode::SERVICE_UNAVAILABLE, stalled)
    );

    *gate.closed.lock().expect("not poisoned") = false;
    gate.opened.notify_all();
    bounded("the restart", restart)
        .await
        .expect("joined")
        .expect("restarted");
    assert_eq!(client.get("/livez").await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(client.get("/readyz").await, (StatusCode::OK, "ok\n".into()));
    tree.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_taken_is_a_failure_of_the_endpoint_with_the_address_in_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("an ephemeral port");
    let addr = taken.local_addr().expect("bound");
    let recorder = EventRecorder::new();
    let app = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .expect("valid settings");
    app.add(HealthEndpoint::new(app.handle()).bind(addr))
        .expect("added");
    let tree = Running::start(app).await;
    let failed = bounded(
        "the endpoint's failure",
        recorder.wait_for(|e| matches!(e.kind, EventKind::Terminated { .. })),
    )
    .await;
    let EventKind::Terminated { service, error, .. } = failed.kind else {
        unreachable!("filtered")
    };
    assert_eq!(&*service, "health");
    let error = error.expect("a failure, not a return");
    assert!(
        error.starts_with(&format!("cannot listen on {addr}: ")),
        "{error}"
    );
    drop(taken);
    tree.shutdown().await.expect("a clean stop");
}
