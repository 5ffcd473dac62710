//! Runs the README's demo and the multiport example as a user would, so they cannot rot.
//!
//! `cargo test` builds the examples before running tests; their binaries sit next to
//! this test's, under `target/<profile>/examples/`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Generous bounds: they only turn a hang into a failure, they are never waited out.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

/// Streams the child's stdout, line by line, to a channel.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_listening(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>) -> u16 {
    loop {
        let line = lines.recv_timeout(LINE_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "no `listening on` line; output so far:\n{}",
                seen.join("\n")
            )
        });
        seen.push(line.clone());
        if let Some(addr) = line.strip_prefix("listening on ") {
            return addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
        }
    }
}

fn echo_once(port: u16, text: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the echo port accepts");
    stream
        .set_read_timeout(Some(LINE_TIMEOUT))
        .expect("timeout set");
    stream
        .write_all(format!("{text}\n").as_bytes())
        .expect("sent");
    let mut reply = String::new();
    let mut reader = BufReader::new(stream);
    reader.read_line(&mut reply).expect("an echoed line");
    reply.trim_end().to_owned()
}

#[test]
fn tour_shows_crashes_backoff_group_restart_abort_and_ordered_shutdown() {
    let output = Command::new(example("tour"))
        .env("RUST_LOG", "info")
        .output()
        .expect("the tour example was built by cargo test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tour failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "service panicked",
        "cache index corrupted",
        "backing off",
        "backoff ended",
        "feed [backed off",
        "https [running",
        "did not stop within its budget",
        "services that would not stop: []",
    ] {
        assert!(
            stdout.contains(expected),
            "tour output lacks `{expected}`:\n{stdout}"
        );
    }
    // The one_for_all pair restarted together: both show one restart.
    for listener in ["http", "https"] {
        let restarted = stdout
            .lines()
            .any(|l| l.contains(&format!("── {listener} [running")) && l.contains("1 restart"));
        assert!(
            restarted,
            "`{listener}` did not restart with its group:\n{stdout}"
        );
    }
    // Reverse start order at shutdown (the last time each says so; http also stopped
    // once before, for its group restart).
    let position = |needle: &str| {
        stdout
            .rfind(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{stdout}"))
    };
    let stopped = |path: &str| position(&format!("stopped cleanly path=\"{path}\""));
    assert!(stopped("app/listeners/https") < stopped("app/listeners/http"));
    assert!(stopped("app/listeners/http") < stopped("app/feed"));
    assert!(stopped("app/feed") < stopped("app/cache"));
    assert!(stopped("app/cache") < stopped("app/database"));
}

#[test]
fn multiport_echoes_heals_after_an_injected_crash_and_stops_on_sigint() {
    let mut child = Command::new(example("multiport"))
        .args(["--ports", "0,0", "--crash-word", "crash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the multiport example was built by cargo test");
    let lines = lines_of(&mut child);
    let mut seen = Vec::new();
    let first = next_listening(&lines, &mut seen);
    let second = next_listening(&lines, &mut seen);
    assert_ne!(first, second);

    assert_eq!(echo_once(first, "hello"), "hello");
    assert_eq!(echo_once(second, "world"), "world");

    // Crash the first port's service; it comes back on the same port.
    let mut stream = TcpStream::connect(("127.0.0.1", first)).expect("connect");
    stream.write_all(b"crash\n").expect("sent");
    stream
        .set_read_timeout(Some(LINE_TIMEOUT))
        .expect("timeout set");
    let mut rest = Vec::new();
    // The service's end closes the connection: reading returns at EOF.
    let _ = stream.read_to_end(&mut rest);
    assert_eq!(
        next_listening(&lines, &mut seen),
        first,
        "restarted on the same port"
    );
    assert_eq!(echo_once(first, "again"), "again");
    assert_eq!(
        echo_once(second, "still"),
        "still",
        "the other port never noticed"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let exit = rx
        .recv_timeout(LINE_TIMEOUT)
        .expect("multiport exits after SIGINT")
        .expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

#[test]
fn the_numbered_examples_run_to_completion() {
    for name in [
        "01_first_service",
        "02_restart_policies",
        "03_declared_tree",
        "04_dynamic_children",
        "05_testing_with_paused_time",
    ] {
        let output = Command::new(example(name))
            .output()
            .unwrap_or_else(|e| panic!("{name} was built by cargo test: {e}"));
        assert!(
            output.status.success(),
            "{name} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The production example under a stand-in for systemd: a datagram socket bound here, named
/// by `NOTIFY_SOCKET`. `--demo` asks its own health endpoint, then stops by itself.
#[cfg(unix)]
#[test]
fn production_answers_its_probes_and_tells_systemd() {
    use std::os::unix::net::UnixDatagram;

    let socket_path =
        std::env::temp_dir().join(format!("suture-production-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket_path);
    let socket = UnixDatagram::bind(&socket_path).expect("a datagram socket in the temp dir");
    let mut child = Command::new(example("production"))
        .arg("--demo")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "2000000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the production example was built by cargo test");
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    thread::spawn(move || {
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err, child.wait()));
    });
    let (stdout, stderr, status) = rx
        .recv_timeout(LINE_TIMEOUT)
        .expect("production --demo exits by itself");
    let status = status.expect("wait");
    assert!(status.success(), "exit {status:?}:\n{stdout}\n{stderr}");
    for expected in [
        "ready: app",
        "GET /livez -> 200\nok",
        "GET /readyz -> 200\nok",
        "GET /tree -> 200\napp [healthy]\n├── health [running",
        "    ├── store [running",
        "    └── rooms [running",
    ] {
        assert!(
            stdout.contains(expected),
            "no `{expected}` in:\n{stdout}\n{stderr}"
        );
    }

    // The process has exited: everything it sent is queued in the socket.
    socket.set_nonblocking(true).expect("non-blocking");
    let mut messages = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(len) = socket.recv(&mut buffer) {
        messages.extend(
            String::from_utf8_lossy(&buffer[..len])
                .lines()
                .map(str::to_owned),
        );
    }
    let _ = std::fs::remove_file(&socket_path);
    let position = |wanted: &str| {
        messages
            .iter()
            .position(|m| m == wanted)
            .unwrap_or_else(|| panic!("no `{wanted}` in {messages:#?}"))
    };
    assert!(
        position("READY=1") < position("STOPPING=1"),
        "{messages:#?}"
    );
    assert_eq!(messages.last().map(String::as_str), Some("STOPPING=1"));
}

/// The tree's health mounted in an axum router: `--demo` asks its own routes, then stops.
#[test]
fn axum_health_answers_its_routes_and_probes_then_stops_cleanly() {
    let output = Command::new(example("axum_health"))
        .arg("--demo")
        .env_remove("NOTIFY_SOCKET")
        .output()
        .expect("the axum_health example was built by cargo test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}:\n{stdout}\n{stderr}",
        output.status
    );
    for expected in [
        "GET / -> HTTP/1.1 200 OK\nhello",
        "GET /livez -> HTTP/1.1 200 OK\nok",
        "GET /readyz -> HTTP/1.1 200 OK\nok",
    ] {
        assert!(
            stdout.contains(expected),
            "no `{expected}` in:\n{stdout}\n{stderr}"
        );
    }
    assert!(stderr.contains("tree stopped"), "{stderr}");
}
