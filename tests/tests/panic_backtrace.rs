//! A supervised panic's backtrace reaches the event when `RUST_BACKTRACE` asks for one, and
//! names the function that panicked once formatted.
//!
//! `Backtrace::capture` reads the variable once per process, and setting it from a test would
//! need `unsafe` (forbidden here): each case runs this binary again, in a fresh process with
//! the variable set, and checks there.

use std::backtrace::Backtrace;
use std::process::Command;
use std::sync::Arc;

use suture::testing::{EventRecorder, Running};
use suture::{Context, EventKind, Service, ServiceResult, Supervisor};

/// Set in the child process: whether it should expect a backtrace (`"1"`) or none (`"0"`).
const EXPECT: &str = "SUTURE_TEST_EXPECT_BACKTRACE";
const TEST: &str = "the_panic_event_carries_a_backtrace_only_when_asked";

struct Exploding;

impl Service for Exploding {
    async fn serve(&mut self, _ctx: Context) -> ServiceResult {
        detonate()
    }
}

#[inline(never)]
fn detonate() -> ServiceResult {
    panic!("kaboom")
}

#[test]
fn the_panic_event_carries_a_backtrace_only_when_asked() {
    let Some(expect) = std::env::var_os(EXPECT) else {
        for (rust_backtrace, expect) in [("1", "1"), ("full", "1"), ("0", "0")] {
            let output = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
                .env("RUST_BACKTRACE", rust_backtrace)
                .env_remove("RUST_LIB_BACKTRACE")
                .env(EXPECT, expect)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "RUST_BACKTRACE={rust_backtrace}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            // A filter that matched nothing would pass too: make sure the case ran.
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(stdout.contains("1 passed"), "{stdout}");
        }
        return;
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(check_event(expect == "1"));
}

async fn check_event(expect_backtrace: bool) {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .event_hook(recorder.hook())
        .build()
        .unwrap();
    sup.add(Exploding).unwrap();
    let tree = Running::start(sup).await;
    let event = recorder
        .wait_for(|e| matches!(e.kind, EventKind::Panicked { .. }))
        .await;
    tree.shutdown().await.unwrap();
    let EventKind::Panicked {
        message, backtrace, ..
    } = event.kind
    else {
        unreachable!()
    };
    assert_eq!(message, "kaboom");
    // Kept as captured, unresolved, not as text formatted at the panic.
    let backtrace: Option<Arc<Backtrace>> = backtrace;
    if !expect_backtrace {
        assert!(backtrace.is_none(), "RUST_BACKTRACE=0 asks for none");
        return;
    }
    let text = backtrace.expect("RUST_BACKTRACE asks for one").to_string();
    assert!(text.contains("panic_backtrace::detonate"), "{text}");
}
