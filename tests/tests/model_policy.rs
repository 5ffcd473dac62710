//! Property tests: the runtime's restart, backoff and escalation decisions, and each
//! strategy's choice of who restarts, match a small reference model of the policy for
//! random sequences of failures and clock advances (on tokio's paused clock).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use suture::{
    Context, Event, EventKind, OnExceeded, Restarting, ServiceError, Strategy, Supervisor,
    service_fn,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// What the model and the runtime are compared on.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    Restart { at_ms: u64, failures: f64 },
    BackoffThenRestart { at_ms: u64, failures: f64 },
    BackoffEnded { at_ms: u64 },
    Escalate { at_ms: u64, failures: f64 },
}

/// The policy, written as plainly as possible: suture's decaying failure count.
fn model(
    gaps_ms: &[u64],
    threshold: f64,
    half_life: Duration,
    backoff: Duration,
    escalate: bool,
) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let (mut failures, mut last): (f64, Option<u64>) = (0.0, None);
    let mut start = 0u64;
    for &gap in gaps_ms {
        let at = start + gap;
        failures = match last {
            None => 1.0,
            Some(l) => failures * 0.5f64.powf((at - l) as f64 / half_life.as_millis() as f64) + 1.0,
        };
        last = Some(at);
        if failures > threshold {
            if escalate {
                decisions.push(Decision::Escalate {
                    at_ms: at,
                    failures,
                });
                return decisions;
            }
            decisions.push(Decision::BackoffThenRestart {
                at_ms: at,
                failures,
            });
            start = at + backoff.as_millis() as u64;
            decisions.push(Decision::BackoffEnded { at_ms: start });
            failures = 0.0;
        } else {
            decisions.push(Decision::Restart {
                at_ms: at,
                failures,
            });
            start = at;
        }
    }
    decisions
}

/// The same scenario on the runtime: one child failing after each gap in turn.
fn observe(
    gaps_ms: &[u64],
    threshold: f64,
    half_life: Duration,
    backoff: Duration,
    escalate: bool,
) -> Vec<Decision> {
    paused_runtime().block_on(async {
        let origin = Instant::now();
        let at_ms = move || (Instant::now() - origin).as_millis() as u64;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let mut builder = Supervisor::builder("model")
            .intensity(threshold, half_life)
            .on_exceeded(if escalate { OnExceeded::Escalate } else { OnExceeded::Backoff })
            .event_hook(move |event: &Event| {
                let decision = match &event.kind {
                    EventKind::Terminated { restarting: Restarting::Now, failures, .. } => {
                        Decision::Restart { at_ms: at_ms(), failures: *failures }
                    }
                    EventKind::Terminated { restarting: Restarting::AfterBackoff, failures, .. } => {
                        Decision::BackoffThenRestart { at_ms: at_ms(), failures: *failures }
                    }
                    EventKind::BackoffEnded => Decision::BackoffEnded { at_ms: at_ms() },
                    EventKind::Escalated { failures, .. } => Decision::Escalate { at_ms: at_ms(), failures: *failures },
                    _ => return,
                };
                log.lock().unwrap().push(decision);
            });
        if !escalate {
            builder = builder.backoff(backoff).jitter(0.0);
        }
        let sup = builder.build().unwrap();
        let gaps: Vec<u64> = gaps_ms.to_vec();
        let run = Arc::new(AtomicU32::new(0));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        sup.add(service_fn("flaky", move |ctx: Context| {
            let n = run.fetch_add(1, Ordering::SeqCst) as usize;
            let gap = gaps.get(n).copied();
            let done = done_tx.clone();
            async move {
                match gap {
                    Some(gap) => {
                        tokio::time::sleep(Duration::from_millis(gap)).await;
                        Err(ServiceError::msg("scripted failure"))
                    }
                    None => {
                        let _ = done.send(());
                        ctx.cancelled().await;
                        Ok(())
                    }
                }
            }
        }))
        .unwrap();
        let stop = CancellationToken::new();
        let mut task = sup.serve_background(Context::new(stop.clone())).await;
        tokio::select! {
            _ = done_rx.recv() => { stop.cancel(); let _ = (&mut task).await; }
            result = &mut task => { assert!(escalate, "only escalation ends the tree by itself: {result:?}"); }
        }
        seen.lock().unwrap().clone()
    })
}

fn same(a: &[Decision], b: &[Decision]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (
                Decision::Restart {
                    at_ms: x,
                    failures: f,
                },
                Decision::Restart {
                    at_ms: y,
                    failures: g,
                },
            )
            | (
                Decision::BackoffThenRestart {
                    at_ms: x,
                    failures: f,
                },
                Decision::BackoffThenRestart {
                    at_ms: y,
                    failures: g,
                },
            )
            | (
                Decision::Escalate {
                    at_ms: x,
                    failures: f,
                },
                Decision::Escalate {
                    at_ms: y,
                    failures: g,
                },
            ) => x == y && (f - g).abs() < 1e-9,
            (a, b) => a == b,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn intensity_backoff_and_escalation_follow_the_model(
        gaps in prop::collection::vec(prop_oneof![Just(0u64), 1u64..50, 1_000u64..40_000], 1..25),
        threshold in prop_oneof![Just(1.0f64), Just(2.5), Just(5.0), 1.0f64..8.0],
        half_life_s in 1u64..60,
        backoff_s in 1u64..30,
        escalate in any::<bool>(),
    ) {
        let half_life = Duration::from_secs(half_life_s);
        let backoff = Duration::from_secs(backoff_s);
        let expected = model(&gaps, threshold, half_life, backoff, escalate);
        let observed = observe(&gaps, threshold, half_life, backoff, escalate);
        prop_assert!(same(&expected, &observed), "expected {expected:?}\nobserved {observed:?}");
    }
}

/// Who the model restarts when child `failed` of `n` fails.
fn restarted_by(strategy: Strategy, failed: usize, n: usize) -> Vec<usize> {
    match strategy {
        Strategy::OneForAll => (0..n).collect(),
        Strategy::RestForOne => (failed..n).collect(),
        _ => vec![failed],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn each_strategy_restarts_whom_the_model_says(
        strategy in prop_oneof![Just(Strategy::OneForOne), Just(Strategy::OneForAll), Just(Strategy::RestForOne)],
        n in 1usize..6,
        failures in prop::collection::vec(0usize..6, 1..12),
    ) {
        let failures: Vec<usize> = failures.into_iter().map(|f| f % n).collect();
        let mut expected = vec![1u32; n];
        for &f in &failures {
            for i in restarted_by(strategy, f, n) {
                expected[i] += 1;
            }
        }
        let observed = paused_runtime().block_on(async {
            let sup = Supervisor::builder("strategies")
                .strategy(strategy)
                .intensity(1_000, Duration::from_secs(1))
                .build()
                .unwrap();
            let starts: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
            let mut triggers = Vec::new();
            for i in 0..n {
                let (tx, rx) = tokio::sync::watch::channel(0u32);
                triggers.push(tx);
                let starts = starts.clone();
                sup.add(service_fn(format!("c{i}"), move |ctx: Context| {
                    let incarnation = starts[i].fetch_add(1, Ordering::SeqCst) + 1;
                    let mut rx = rx.clone();
                    async move {
                        // Fail when the driver asks this incarnation to.
                        tokio::select! {
                            _ = ctx.cancelled() => Ok(()),
                            _ = rx.wait_for(|&k| k >= incarnation) => Err(ServiceError::msg("told to fail")),
                        }
                    }
                }))
                .unwrap();
            }
            let stop = CancellationToken::new();
            let task = sup.serve_background(Context::new(stop.clone())).await;
            for &f in &failures {
                let current = starts[f].load(Ordering::SeqCst);
                triggers[f].send_replace(current);
                // Paused clock: this sleep ends only once the runtime is idle, i.e. the
                // restart (and any group stop) has settled.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            stop.cancel();
            task.await.unwrap().unwrap();
            starts.iter().map(|s| s.load(Ordering::SeqCst)).collect::<Vec<u32>>()
        });
        prop_assert_eq!(expected, observed);
    }
}
