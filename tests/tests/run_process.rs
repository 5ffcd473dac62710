//! `suture::run` in a real process, with real signals: exit statuses, the forced exit at a
//! second signal, the exit past services that block their threads, and `on_ready`.
//!
//! Each test spawns `src/bin/run_probe.rs` in one of its modes and synchronises on the lines
//! it prints (stdout from the probe, stderr from the default log subscriber); every wait is
//! bounded, and a probe that overruns is killed and fails the test.
#![cfg(unix)]

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use suture_tests::process::Probe;

/// The bound on a whole test: it only turns a hang into a failure, it is never waited out.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs the probe in `mode`, logging at info.
fn start(mode: &str) -> Probe {
    let mut command = Command::new(env!("CARGO_BIN_EXE_run_probe"));
    command
        .arg(mode)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("NOTIFY_SOCKET");
    Probe::spawn(command, DEADLINE)
}

fn position(probe: &Probe, needle: &str) -> usize {
    probe
        .transcript()
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{}", probe.output()))
}

#[test]
fn on_ready_follows_the_start_up_and_sigterm_stops_cleanly_with_0() {
    let mut probe = start("clean");
    probe.expect("out: on_ready app");
    // The ready-gated child was ready before the root said it was.
    assert!(position(&probe, "out: db ready") < position(&probe, "out: on_ready app"));
    probe.signal("TERM");
    let status = probe.finish();
    assert_eq!(status.code(), Some(0), "{}", probe.output());
    let output = probe.output();
    assert!(output.contains("out: db stopped"), "{output}");
    // The default subscriber logged the request, with the signal.
    assert!(output.contains("shutdown requested"), "{output}");
    assert!(output.contains("SIGTERM"), "{output}");
}

#[test]
fn a_failed_root_exits_1() {
    for mode in ["escalate", "terminate"] {
        let mut probe = start(mode);
        let status = probe.finish();
        assert_eq!(status.code(), Some(1), "{mode}:\n{}", probe.output());
        assert!(
            probe.output().contains("the root failed"),
            "{mode}:\n{}",
            probe.output()
        );
    }
}

#[test]
fn a_shutdown_on_future_stops_cleanly_without_a_signal() {
    let mut probe = start("custom");
    probe.expect("out: on_ready app");
    writeln!(probe.stdin(), "stop").expect("the probe reads stdin");
    let status = probe.finish();
    assert_eq!(status.code(), Some(0), "{}", probe.output());
    assert!(
        probe.output().contains("shutdown requested by the program"),
        "{}",
        probe.output()
    );
}

/// The first signal starts a slow shutdown; the second forces the exit with 128 + its number.
fn second_signal_forces(signal: &str, code: i32) {
    let mut probe = start("slow");
    probe.expect("out: on_ready app");
    probe.signal(signal);
    probe.expect("out: stopping");
    probe.signal(signal);
    let status = probe.finish();
    assert_eq!(status.code(), Some(code), "{}", probe.output());
    assert!(
        probe.output().contains("second signal"),
        "{}",
        probe.output()
    );
}

#[test]
fn a_second_sigint_forces_the_exit_with_130() {
    second_signal_forces("INT", 130);
}

#[test]
fn a_second_sigterm_forces_the_exit_with_143() {
    second_signal_forces("TERM", 143);
}

#[test]
fn a_service_blocking_its_thread_is_reported_and_the_process_exits_1() {
    let mut probe = start("blocking");
    // In either order: the blocker may take its thread before or after the callback runs.
    probe.expect("out: blocking");
    probe.expect("out: on_ready app");
    probe.signal("TERM");
    // Its budget (200 ms) and the abort's grace run out; then `run` exits by itself.
    let status = probe.finish();
    assert_eq!(status.code(), Some(1), "{}", probe.output());
    let output = probe.output();
    assert!(output.contains("service did not stop"), "{output}");
    assert!(output.contains("app/blocker"), "{output}");
}

#[test]
fn a_second_signal_exits_even_when_the_only_runtime_thread_is_blocked() {
    let mut probe = start("blocking-current-thread");
    probe.expect("out: blocking");
    probe.signal("TERM");
    // Logged from the signal thread: the runtime's one thread is stuck in the blocker.
    probe.expect("shutdown requested");
    probe.signal("TERM");
    let status = probe.finish();
    assert_eq!(status.code(), Some(143), "{}", probe.output());
}
