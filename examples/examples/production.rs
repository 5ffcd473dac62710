//! A service as it runs in production: a declared tree, a health endpoint for Kubernetes'
//! probes, and systemd's notifications, with `suture::run`'s exit statuses.
//!
//! ```text
//! cargo run --example production                            # health on 127.0.0.1:8081
//! cargo run --example production -- --health 0.0.0.0:8081   # reachable by the kubelet
//! cargo run --example production -- --demo                  # checks itself, then stops
//! ```
//! Then `curl -i localhost:8081/readyz`, `/livez` or `/tree`. Under systemd (`Type=notify`,
//! see the guide) it says `READY=1` once the store is ready, keeps `STATUS=` up to date, feeds
//! the watchdog while the root's loop answers, and says `STOPPING=1` at shutdown; elsewhere it
//! says nothing. Ctrl-C or SIGTERM stops it cleanly (status 0); the tree giving up exits 1.
//!
//! `--demo` binds a free port, and once the tree is up asks its own endpoint for `/livez`,
//! `/readyz` and `/tree`, prints the answers, and shuts down: a test runs it so.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use suture::health::HealthEndpoint;
use suture::{Context, Runner, Service, ServiceResult, Supervisor, SupervisorHandle, supervisor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

supervisor! {
    /// The chat server's work: the store first (ready-gated), then what needs it. When the
    /// store restarts, the rooms restart with it.
    #[supervisor(strategy = rest_for_one, intensity = 5 / 30s, backoff = 5s, shutdown = 10s)]
    struct Chat {
        #[child(ready = 5s)]
        store: Store,
        rooms: Rooms,
    }
}

/// Opens its storage, says it is ready, and serves until told to stop.
#[derive(Service)]
struct Store;

impl Store {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        // Opening files, replaying a journal...
        tokio::task::yield_now().await;
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

/// The chat rooms, relying on the store.
#[derive(Service)]
struct Rooms;

impl Rooms {
    async fn run(&mut self, ctx: Context) -> ServiceResult {
        ctx.cancelled().await;
        Ok(())
    }
}

struct Options {
    health: Option<SocketAddr>,
    demo: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        health: None,
        demo: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--health" => {
                let addr = args.next().ok_or("--health needs an address")?;
                let addr = addr.parse().map_err(|e| format!("--health {addr}: {e}"))?;
                options.health = Some(addr);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("production: {error}");
            return ExitCode::from(2);
        }
    };
    let app = Supervisor::builder("app")
        .shutdown(Duration::from_secs(20))
        .build()
        .expect("valid settings");
    // First, so that it starts first and stops last: probes get answers throughout.
    let endpoint = HealthEndpoint::new(app.handle());
    let (endpoint, health_addr) = match (options.health, options.demo) {
        (Some(addr), _) => (endpoint.bind(addr), addr),
        (None, false) => (endpoint, HealthEndpoint::DEFAULT_ADDR),
        (None, true) => {
            // A free port, bound here so that it is known before the tree starts.
            let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
                Ok(listener) => listener,
                Err(error) => {
                    eprintln!("production: cannot bind a port: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let addr = listener
                .local_addr()
                .expect("a bound listener has an address");
            (endpoint.listener(listener), addr)
        }
    };
    println!("health on http://{health_addr}");
    app.add(endpoint).expect("app is not stopped");
    // Ready-gated, so that the root's start-up (and `READY=1`) includes the chat's own.
    let chat = Chat::new(Store, Rooms);
    let spec = chat.child_spec().ready_within(Duration::from_secs(10));
    app.add_with(chat, spec).expect("app is not stopped");

    let (up, is_up) = tokio::sync::oneshot::channel::<SupervisorHandle>();
    let mut runner = Runner::new().on_ready(move |app: SupervisorHandle| {
        println!("ready: {}", app.name());
        let _ = up.send(app);
    });
    if options.demo {
        runner = runner.shutdown_on(async move {
            if is_up.await.is_ok() {
                for path in ["/livez", "/readyz", "/tree"] {
                    match get(health_addr, path).await {
                        Ok(answer) => println!("GET {path} -> {answer}"),
                        Err(error) => println!("GET {path} failed: {error}"),
                    }
                }
            }
        });
    }
    runner.run(app).await
}

/// A bare HTTP/1.1 GET: the status code, then the body.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.split(' ').nth(1).unwrap_or("?").to_owned();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(format!("{status}\n{}", body.trim_end()))
}
