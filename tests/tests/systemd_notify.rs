//! `Runner` telling systemd the truth, through a real unix datagram socket bound by the test:
//! `READY=1` only once the ready-gated child is ready, `STATUS=` as the tree's health changes,
//! `WATCHDOG=1` only while the root's loop answers, `STOPPING=1` at shutdown, and nothing when
//! switched off.
//!
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` are process-wide, so the tree runs in a process of its
//! own (`src/bin/notify_probe.rs`), with the variables set for it alone. Every wait is bounded;
//! a probe that overruns is killed and fails the test.
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use suture_tests::process::Probe;

/// The bound on a whole test: it only turns a hang into a failure, it is never waited out.
const DEADLINE: Duration = Duration::from_secs(30);

/// The watchdog interval given to the probe: it pings every 100 ms.
const WATCHDOG_USEC: u64 = 200_000;

/// A datagram socket standing in for systemd's, removed when dropped.
struct NotifySocket {
    path: PathBuf,
    messages: Receiver<String>,
    /// Every message read so far, in order.
    seen: Vec<String>,
    deadline: Instant,
}

impl NotifySocket {
    fn bind(test: &str) -> NotifySocket {
        let path =
            std::env::temp_dir().join(format!("suture-notify-{}-{test}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("a datagram socket in the temp dir");
        let (tx, messages) = mpsc::channel();
        thread::spawn(move || {
            let mut buffer = vec![0; 64 * 1024];
            while let Ok(len) = socket.recv(&mut buffer) {
                let datagram = String::from_utf8_lossy(&buffer[..len]).into_owned();
                // One datagram may carry several assignments, one a line.
                for line in datagram.lines() {
                    if tx.send(line.to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        NotifySocket {
            path,
            messages,
            seen: Vec::new(),
            deadline: Instant::now() + DEADLINE,
        }
    }

    /// Reads until a message satisfies `wanted`; returns its index in `seen`.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> usize {
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(remaining) {
                Ok(message) => {
                    let found = wanted(&message);
                    self.seen.push(message);
                    if found {
                        return self.seen.len() - 1;
                    }
                }
                Err(_) => panic!("no {what} within {DEADLINE:?}; messages:\n{:#?}", self.seen),
            }
        }
    }

    /// Every message that arrives within `window`.
    fn during(&mut self, window: Duration) -> Vec<String> {
        let end = Instant::now() + window;
        let mut arrived = Vec::new();
        loop {
            let remaining = end.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(remaining) {
                Ok(message) => arrived.push(message),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => panic!("the socket's reader ended"),
            }
        }
        self.seen.extend(arrived.iter().cloned());
        arrived
    }

    /// Every message sent before now that was not read yet. A unix datagram socket keeps
    /// order: a marker sent now arrives after all of them.
    fn rest(&mut self) -> Vec<String> {
        const MARKER: &str = "TEST-MARKER=1";
        UnixDatagram::unbound()
            .and_then(|marker| marker.send_to(MARKER.as_bytes(), &self.path))
            .expect("the marker is sent");
        let mut rest = Vec::new();
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(remaining) {
                Ok(message) if message == MARKER => break,
                Ok(message) => rest.push(message),
                Err(_) => panic!("the marker did not come back; messages:\n{:#?}", self.seen),
            }
        }
        self.seen.extend(rest.iter().cloned());
        rest
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs the probe in `mode`, pointed at `socket` as systemd would point it.
fn start(mode: &str, socket: &NotifySocket) -> Probe {
    let mut command = Command::new(env!("CARGO_BIN_EXE_notify_probe"));
    command
        .arg(mode)
        .env("NOTIFY_SOCKET", &socket.path)
        .env("WATCHDOG_USEC", WATCHDOG_USEC.to_string())
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "info");
    Probe::spawn(command, DEADLINE)
}

fn count(messages: &[String], wanted: &str) -> usize {
    messages.iter().filter(|m| *m == wanted).count()
}

#[test]
fn systemd_hears_ready_status_watchdog_and_stopping_in_order() {
    let mut socket = NotifySocket::bind("order");
    let mut probe = start("tree", &socket);

    // Start-up, `app/db` not ready yet (so its siblings are not started yet): the status
    // says so, the watchdog is fed (the root's loop answers while it waits), and there is
    // no `READY=1`.
    // (Its siblings, not started yet, are not in trouble: they are not named.)
    socket.wait_for("a status naming app/db as starting", |m| {
        m == "STATUS=0 running; starting: app/db"
    });
    for _ in 0..3 {
        socket.wait_for("a watchdog ping", |m| m == "WATCHDOG=1");
    }
    assert_eq!(count(&socket.seen, "READY=1"), 0, "{:#?}", socket.seen);

    probe.command("ready");
    let ready = socket.wait_for("READY=1", |m| m == "READY=1");
    probe.expect("out: db ready");
    probe.expect("out: on_ready app");
    let healthy = socket.wait_for("the healthy status", |m| m == "STATUS=3 running");
    assert!(ready < healthy);

    // A crash loop: the root backs off, and the status names the path.
    probe.command("crash");
    socket.wait_for("a status naming app/flaky as backing off", |m| {
        m == "STATUS=2 running; backing off: app/flaky"
    });
    socket.wait_for("a watchdog ping while backing off", |m| m == "WATCHDOG=1");

    // The root's loop stalls (its event hook blocks): the pings stop. One sent just before
    // the stall may still arrive; at a ping every 100 ms, a second is ten missed pings.
    probe.command("stall");
    probe.expect("out: stalled");
    let stalled = socket.during(Duration::from_secs(1));
    assert!(
        count(&stalled, "WATCHDOG=1") <= 1,
        "pings went on while the root's loop was stalled: {stalled:#?}"
    );
    probe.command("release");
    socket.wait_for("a watchdog ping once the loop answers again", |m| {
        m == "WATCHDOG=1"
    });

    // Shutdown: `STOPPING=1`, then nothing more, and a clean exit.
    probe.signal("TERM");
    let stopping = socket.wait_for("STOPPING=1", |m| m == "STOPPING=1");
    let status = probe.finish();
    assert_eq!(status.code(), Some(0), "{}", probe.output());
    let after = socket.rest();
    assert!(after.is_empty(), "sent after STOPPING=1: {after:#?}");
    assert_eq!(count(&socket.seen, "READY=1"), 1);
    assert_eq!(count(&socket.seen, "STOPPING=1"), 1);
    assert!(ready < stopping);
    // Logged once each, when the loop stalled and when it came back; none at start-up.
    let log = probe.output();
    let at = |needle: &str| {
        let found: Vec<usize> = probe
            .transcript()
            .iter()
            .enumerate()
            .filter(|(_, line)| line.contains(needle))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "`{needle}` logged {} times:\n{log}",
            found.len()
        );
        found[0]
    };
    assert!(at("out: stalled") < at("does not answer"), "{log}");
    assert!(at("does not answer") < at("answers again"), "{log}");
}

#[test]
fn a_root_ending_by_itself_says_stopping_and_exits_1() {
    let mut socket = NotifySocket::bind("ended");
    let mut probe = start("tree", &socket);
    probe.command("ready");
    socket.wait_for("READY=1", |m| m == "READY=1");
    probe.command("terminate");
    socket.wait_for("STOPPING=1", |m| m == "STOPPING=1");
    let status = probe.finish();
    assert_eq!(status.code(), Some(1), "{}", probe.output());
    let after = socket.rest();
    assert!(after.is_empty(), "sent after STOPPING=1: {after:#?}");
}

#[test]
fn switched_off_it_sends_nothing_even_under_systemd() {
    let mut socket = NotifySocket::bind("off");
    let mut probe = start("off", &socket);
    probe.command("ready");
    probe.expect("out: on_ready app");
    probe.signal("TERM");
    let status = probe.finish();
    assert_eq!(status.code(), Some(0), "{}", probe.output());
    // The probe has exited: anything it sent is in the socket's queue already.
    let sent = socket.rest();
    assert!(sent.is_empty(), "sent while switched off: {sent:#?}");
}
