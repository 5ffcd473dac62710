//! The metrics in Prometheus text, scraped over real HTTP on a loopback port while a child
//! crashes: the counters move between scrapes. (The wiring of `examples/metrics_prometheus.rs`.)
//!
//! Alone in its own test binary: the recorder is installed process-wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use suture::testing::{Running, settle};
use suture::{Context, ServiceError, Supervisor, service_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Serves `metrics` to every connection on `listener`: one request, one response.
async fn serve(listener: TcpListener, metrics: PrometheusHandle) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let body = metrics.render();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
    }
}

/// A plain HTTP/1.1 GET over a real socket; the body of a 200 response.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of the series `name` whose labels include each of `labels` (0 if absent).
fn value(body: &str, name: &str, labels: &[&str]) -> f64 {
    body.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_scrape_over_http_sees_the_counters_move_as_a_child_crashes() {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this binary");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, metrics));

    // `crashy` fails each time it is told to, and runs otherwise.
    let crash = Arc::new(Notify::new());
    let runs = Arc::new(AtomicU32::new(0));
    let sup = Supervisor::builder("app").build().unwrap();
    let (told, counted) = (crash.clone(), runs.clone());
    sup.add(service_fn("crashy", move |ctx: Context| {
        let crash = told.clone();
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::select! {
                () = crash.notified() => Err(ServiceError::msg("crashed")),
                () = ctx.cancelled() => Ok(()),
            }
        }
    }))
    .unwrap();
    let tree = Running::start(sup).await;

    let app = r#"supervisor="app""#;
    let failed = r#"reason="failed""#;
    let before = scrape(addr).await;
    assert_eq!(
        value(&before, "suture_starts_total", &[app]),
        1.0,
        "{before}"
    );
    assert_eq!(value(&before, "suture_restarts_total", &[app, failed]), 0.0);
    assert_eq!(
        value(&before, "suture_children", &[app, r#"state="running""#]),
        1.0
    );

    for crashes in 1..=2 {
        crash.notify_one();
        for _ in 0..100 {
            if runs.load(Ordering::SeqCst) == crashes + 1 {
                break;
            }
            settle().await;
        }
        let after = scrape(addr).await;
        let crashes = f64::from(crashes);
        assert_eq!(
            value(&after, "suture_restarts_total", &[app, failed]),
            crashes,
            "{after}"
        );
        assert_eq!(value(&after, "suture_starts_total", &[app]), crashes + 1.0);
    }

    tree.shutdown().await.unwrap();
    server.abort();
}
