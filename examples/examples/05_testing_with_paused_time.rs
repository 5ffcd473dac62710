//! 05: testing a supervised service deterministically, on tokio's paused clock.
//!
//! With the `testing` feature, `suture::testing` gives scripted services (fail N times, panic,
//! hang, ignore cancellation, become ready late), an event recorder with one short line per
//! event, and helpers to serve a tree in a test. On a paused clock, time moves only when
//! every task waits, so "failed three times, backed off for 15 s, then recovered" is an exact
//! assertion that runs in microseconds. In a real project, this `main` is a
//! `#[tokio::test(start_paused = true)]` function.
//! Run with `cargo run --example 05_testing_with_paused_time`.
#![allow(clippy::print_stdout)] // an example talks to its reader

use std::time::Duration;

use suture::Supervisor;
use suture::testing::{EventRecorder, Running, Scripted, Step};
use tokio::time::Instant;

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let recorder = EventRecorder::new();
    let sup = Supervisor::builder("app")
        .intensity(2, Duration::from_secs(30)) // a third quick failure backs off
        .backoff(Duration::from_secs(15))
        .jitter(0.0) // no randomness: the pause is exactly 15 s
        .event_hook(recorder.hook())
        .build()
        .expect("valid settings");
    // The service under test: its database is down for three attempts.
    let db = Scripted::new("db", [Step::Fail, Step::Fail, Step::Fail, Step::Run]);
    let probe = db.probe();
    sup.add(db).expect("not stopped");

    let began = Instant::now();
    let tree = Running::start(sup).await;
    probe.wait_for_starts(4).await;

    let lines = recorder.lines();
    for line in &lines {
        println!("{line}");
    }
    assert_eq!(
        lines,
        [
            "app: started db",
            "app: db failed, restarting now",
            "app: started db",
            "app: db failed, restarting now",
            "app: started db",
            "app: backoff 15s",
            "app: db failed, restarting after backoff",
            "app: backoff ended",
            "app: started db",
        ]
    );
    // Virtual time: the backoff took exactly its 15 s; nothing else took any.
    assert_eq!(began.elapsed(), Duration::from_secs(15));
    tree.shutdown().await.expect("a clean stop");
    println!(
        "ok: 3 failures, a 15 s backoff, recovered; {:?} of virtual time",
        began.elapsed()
    );
}
