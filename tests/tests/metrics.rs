//! Metrics (feature `metrics`), read back with `metrics-util`'s debugging recorder.
//!
//! Alone in its own test binary (one test): the recorder is installed process-wide.

use std::collections::BTreeMap;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use suture::testing::{Running, Scripted, Step, settle};
use suture::{ChildSpec, OnExceeded, Restart, Shutdown, Supervisor};

/// `name{label=value,...}` (labels sorted) -> value: counters summed over snapshots (the
/// recorder resets them at each), gauges as last set.
#[derive(Default)]
struct Seen(BTreeMap<String, f64>);

impl Seen {
    fn take(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            match value {
                #[allow(clippy::cast_precision_loss)]
                DebugValue::Counter(n) => *self.0.entry(name).or_default() += n as f64,
                DebugValue::Gauge(g) => {
                    self.0.insert(name, g.0);
                }
                DebugValue::Histogram(_) => {}
            }
        }
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn get(&self, name: &str) -> f64 {
        self.0
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("no `{name}` among {:#?}", self.0.keys().collect::<Vec<_>>()))
    }
}

#[tokio::test(start_paused = true)]
async fn counters_and_gauges_follow_what_the_tree_does() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    // app: `crashy` fails, panics, then runs; `stubborn` ignores cancellation (aborted at
    // shutdown); `fragile` escalates once (temporary: not restarted); `inner` backs off once.
    let inner = Supervisor::builder("inner")
        .intensity(1, Duration::from_secs(30))
        .backoff(Duration::from_secs(10))
        .jitter(0.0)
        .build()
        .unwrap();
    let flaky = Scripted::new("flaky", [Step::Fail, Step::Fail, Step::Run]);
    let flaky_probe = flaky.probe();
    inner.add(flaky).unwrap();
    let fragile = Supervisor::builder("fragile")
        .intensity(1, Duration::from_secs(30))
        .on_exceeded(OnExceeded::Escalate)
        .build()
        .unwrap();
    fragile.add(Scripted::new("broken", [Step::Fail])).unwrap();
    let root = Supervisor::builder("app").build().unwrap();
    let crashy = Scripted::new("crashy", [Step::Fail, Step::Panic, Step::Run]);
    let crashy_probe = crashy.probe();
    root.add(crashy).unwrap();
    root.add(inner).unwrap();
    root.add_with(fragile, ChildSpec::new().restart(Restart::Temporary))
        .unwrap();
    let stubborn = ChildSpec::new().shutdown(Shutdown::Timeout(Duration::from_secs(1)));
    root.add_with(Scripted::new("stubborn", [Step::IgnoreCancel]), stubborn)
        .unwrap();
    let tree = Running::start(root).await;
    crashy_probe.wait_for_starts(3).await;
    flaky_probe.wait_for_starts(3).await;
    settle().await;

    let mut seen = Seen::default();
    seen.take(&snapshotter);
    assert_eq!(
        seen.get("suture_children{state=running,supervisor=app}"),
        3.0
    );
    assert!(
        !seen.has("suture_children{state=backed_off,supervisor=app}"),
        "a series appears when first used"
    );
    assert_eq!(
        seen.get("suture_children{state=running,supervisor=app/inner}"),
        1.0
    );

    tree.shutdown().await.unwrap();
    seen.take(&snapshotter);
    // crashy 3, inner, fragile, stubborn.
    assert_eq!(seen.get("suture_starts_total{supervisor=app}"), 6.0);
    assert_eq!(seen.get("suture_starts_total{supervisor=app/inner}"), 3.0);
    assert_eq!(
        seen.get("suture_restarts_total{reason=failed,supervisor=app}"),
        1.0
    );
    assert_eq!(
        seen.get("suture_restarts_total{reason=panicked,supervisor=app}"),
        1.0
    );
    assert_eq!(
        seen.get("suture_restarts_total{reason=failed,supervisor=app/inner}"),
        2.0
    );
    assert_eq!(seen.get("suture_panics_total{supervisor=app}"), 1.0);
    assert_eq!(seen.get("suture_backoffs_total{supervisor=app/inner}"), 1.0);
    assert!(!seen.has("suture_backoffs_total{supervisor=app}"));
    assert_eq!(
        seen.get("suture_escalations_total{supervisor=app/fragile}"),
        1.0
    );
    assert_eq!(seen.get("suture_stop_timeouts_total{supervisor=app}"), 1.0);
    assert_eq!(
        seen.get("suture_children{state=running,supervisor=app}"),
        0.0
    );
    assert_eq!(
        seen.get("suture_children{state=stopped,supervisor=app}"),
        3.0
    );
}
