//! The essay's example made real: one line-echo TCP service per loopback port, each under
//! the same supervisor, so a crash on one port never disturbs the others. The tree is
//! declared, its shape coming from the command line: a `Vec` field is a pool, one child per
//! configured port.
//!
//! ```text
//! cargo run --example multiport -- --ports 7001,7002 --crash-word crash
//! ```
//! Connect with `nc 127.0.0.1 7001`: every line comes back. A line equal to the crash word
//! makes that port's service panic; its supervisor restarts it on the same port and the echo
//! resumes. Ctrl-C shuts everything down gracefully. Port 0 picks a free port; the ports
//! actually bound are printed as `listening on ADDR`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::net::SocketAddr;
use std::process::ExitCode;

use suture::{Context, Service, ServiceError, ServiceResult, supervisor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

supervisor! {
    /// One echo service per configured port.
    #[supervisor(shutdown = 2s)]
    struct Multiport {
        /// Ready once bound, so the ports come up in order and are printed in order. Each
        /// is named after its port (`echo-7001`), made unique in the pool.
        #[child(ready = 5s)]
        ports: Vec<EchoPort>,
    }
}

/// Echoes lines on one port; keeps the port across restarts.
struct EchoPort {
    addr: SocketAddr,
    crash_word: Option<String>,
}

impl Service for EchoPort {
    async fn serve(&mut self, ctx: Context) -> ServiceResult {
        let listener = TcpListener::bind(self.addr).await?;
        // Port 0 becomes a real port on the first start; restarts bind the same one.
        self.addr = listener.local_addr()?;
        println!("listening on {}", self.addr);
        ctx.ready();
        // Connections live inside the service: they end when it ends.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    connections.spawn(echo(stream, self.crash_word.clone()));
                }
                Some(done) = connections.join_next() => {
                    if let Ok(Err(error)) = done {
                        panic!("{error}");
                    }
                }
            }
        }
    }

    fn name(&self) -> std::borrow::Cow<'static, str> {
        format!("echo-{}", self.addr.port()).into()
    }
}

/// Echoes each line back; fails when it sees the crash word.
async fn echo(stream: TcpStream, crash_word: Option<String>) -> Result<(), ServiceError> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        if crash_word.as_deref() == Some(line.trim()) {
            return Err(ServiceError::msg(format!(
                "crash injected by a client: {line:?}"
            )));
        }
        write.write_all(line.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
    Ok(())
}

struct Args {
    ports: Vec<u16>,
    crash_word: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        ports: vec![7001, 7002, 7003],
        crash_word: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--ports" => {
                args.ports = value
                    .split(',')
                    .map(|p| p.trim().parse().map_err(|_| format!("bad port `{p}`")))
                    .collect::<Result<_, _>>()?;
            }
            "--crash-word" => args.crash_word = Some(value),
            other => {
                return Err(format!(
                    "unknown flag `{other}`; expected --ports or --crash-word"
                ));
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .compact()
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("multiport: {message}");
            return ExitCode::from(2);
        }
    };
    let ports = args
        .ports
        .iter()
        .map(|port| EchoPort {
            addr: SocketAddr::from(([127, 0, 0, 1], *port)),
            crash_word: args.crash_word.clone(),
        })
        .collect();
    suture::run(Multiport::new(ports)).await
}
