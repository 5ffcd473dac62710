//! Metrics in Prometheus text: suture's counters and gauges (feature `metrics`) recorded by
//! `metrics-exporter-prometheus` and served, by a service in the tree itself, on a loopback
//! port. A child crashes every few seconds, so `suture_restarts_total` moves.
//!
//! Run with `cargo run --example metrics_prometheus`, then
//! `curl http://127.0.0.1:9898/metrics` (another address with `METRICS_ADDR=host:port`);
//! Ctrl-C stops it. The metric names are in the guide (`suture::guide`, "Observing a tree").
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::process::ExitCode;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use suture::{Context, ServiceError, ServiceResult, Supervisor, service_fn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request on `listener` with the current metrics, until told to stop.
async fn serve_metrics(
    ctx: Context,
    listener: &TcpListener,
    metrics: &PrometheusHandle,
) -> ServiceResult {
    loop {
        let (mut socket, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = ctx.cancelled() => return Ok(()),
        };
        // The request is read up to its blank line and not looked at: there is one page.
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await? {
                0 => break,
                n => request.extend_from_slice(&buf[..n]),
            }
        }
        let body = metrics.render();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(body.as_bytes()).await?;
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let metrics = PrometheusBuilder::new().install_recorder()?;
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:9898".to_owned());
    let listener = std::sync::Arc::new(TcpListener::bind(&addr).await?);
    println!("metrics on http://{}/metrics", listener.local_addr()?);

    let app = Supervisor::builder("app").build()?;
    app.add(service_fn("metrics", move |ctx: Context| {
        let (listener, metrics) = (listener.clone(), metrics.clone());
        async move { serve_metrics(ctx, &listener, &metrics).await }
    }))?;
    app.add(service_fn("flaky", |ctx: Context| async move {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3)) => Err(ServiceError::msg("crashed")),
            () = ctx.cancelled() => Ok(()),
        }
    }))?;
    Ok(suture::run(app).await)
}
