//! Metrics through the `metrics` facade (feature `metrics`); without it, every call is empty.
//!
//! Handles are registered once per serve, labelled with the supervisor's path: counting an
//! event is then one atomic add in the recorder (nothing at all with no recorder installed).

use crate::tree::ChildState;

/// Every state, in the order of [`state_index`].
#[cfg(feature = "metrics")]
const STATES: [ChildState; 6] = [
    ChildState::Starting,
    ChildState::Running,
    ChildState::Stopping,
    ChildState::Restarting,
    ChildState::BackedOff,
    ChildState::Stopped,
];

/// The index of `state` in [`STATES`].
pub(crate) fn state_index(state: ChildState) -> usize {
    match state {
        ChildState::Starting => 0,
        ChildState::Running => 1,
        ChildState::Stopping => 2,
        ChildState::Restarting => 3,
        ChildState::BackedOff => 4,
        ChildState::Stopped => 5,
    }
}

/// Why a child is restarted, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// It returned an error (or missed its ready deadline).
    Failed,
    /// It panicked.
    Panicked,
    /// It returned `Ok(())` and is permanent.
    Returned,
}

#[cfg(feature = "metrics")]
pub(crate) use enabled::Meters;

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::Meters;

#[cfg(feature = "metrics")]
mod enabled {
    use std::sync::{Arc, OnceLock};

    use metrics::{Counter, Gauge, Label, counter, gauge};

    use super::{Reason, STATES};

    /// Each handle is registered with the recorder the first time it is used: registering
    /// hashes the labels, and a large tree has many supervisors with long paths.
    struct Handles {
        path: Arc<str>,
        starts: OnceLock<Counter>,
        /// By [`Reason`]: failed, panicked, returned.
        restarts: [OnceLock<Counter>; 3],
        panics: OnceLock<Counter>,
        backoffs: OnceLock<Counter>,
        escalations: OnceLock<Counter>,
        stop_timeouts: OnceLock<Counter>,
        /// By state, in the order of [`STATES`].
        children: [OnceLock<Gauge>; 6],
        /// The counts last set (a gauge never set reads 0: it is registered once non-zero).
        shown: [u64; 6],
    }

    impl Handles {
        fn labels(&self, more: Option<(&'static str, &'static str)>) -> Vec<Label> {
            // The path is shared, not copied.
            let mut labels = vec![Label::new("supervisor", self.path.clone())];
            if let Some((key, value)) = more {
                labels.push(Label::new(key, value));
            }
            labels
        }

        fn count(&self, handle: &OnceLock<Counter>, name: &'static str) {
            handle
                .get_or_init(|| counter!(name, self.labels(None)))
                .increment(1);
        }
    }

    /// The metrics of one serve of a supervisor.
    pub(crate) struct Meters(Option<Box<Handles>>);

    impl Meters {
        pub(crate) fn new(path: &Arc<str>) -> Meters {
            Meters(Some(Box::new(Handles {
                path: path.clone(),
                starts: OnceLock::new(),
                restarts: Default::default(),
                panics: OnceLock::new(),
                backoffs: OnceLock::new(),
                escalations: OnceLock::new(),
                stop_timeouts: OnceLock::new(),
                children: Default::default(),
                shown: [0; 6],
            })))
        }

        /// For a supervisor not being served: registers nothing.
        pub(crate) fn none() -> Meters {
            Meters(None)
        }

        pub(crate) fn started(&self) {
            if let Some(m) = &self.0 {
                m.count(&m.starts, "suture_starts_total");
            }
        }

        pub(crate) fn restarted(&self, reason: Reason) {
            if let Some(m) = &self.0 {
                let label = match reason {
                    Reason::Failed => "failed",
                    Reason::Panicked => "panicked",
                    Reason::Returned => "returned",
                };
                m.restarts[reason as usize]
                    .get_or_init(|| {
                        counter!("suture_restarts_total", m.labels(Some(("reason", label))))
                    })
                    .increment(1);
            }
        }

        pub(crate) fn panicked(&self) {
            if let Some(m) = &self.0 {
                m.count(&m.panics, "suture_panics_total");
            }
        }

        pub(crate) fn backed_off(&self) {
            if let Some(m) = &self.0 {
                m.count(&m.backoffs, "suture_backoffs_total");
            }
        }

        pub(crate) fn escalated(&self) {
            if let Some(m) = &self.0 {
                m.count(&m.escalations, "suture_escalations_total");
            }
        }

        pub(crate) fn stop_timed_out(&self) {
            if let Some(m) = &self.0 {
                m.count(&m.stop_timeouts, "suture_stop_timeouts_total");
            }
        }

        /// Sets the children-by-state gauges that changed.
        pub(crate) fn children(&mut self, counts: &[u64; 6]) {
            let Some(m) = &mut self.0 else {
                return;
            };
            for (i, &count) in counts.iter().enumerate() {
                if m.shown[i] == count {
                    continue;
                }
                m.shown[i] = count;
                let gauge = m.children[i].get_or_init(|| {
                    let state = match STATES[i] {
                        crate::tree::ChildState::Starting => "starting",
                        crate::tree::ChildState::Running => "running",
                        crate::tree::ChildState::Stopping => "stopping",
                        crate::tree::ChildState::Restarting => "restarting",
                        crate::tree::ChildState::BackedOff => "backed_off",
                        crate::tree::ChildState::Stopped => "stopped",
                    };
                    let mut labels = vec![Label::new("supervisor", m.path.clone())];
                    labels.push(Label::new("state", state));
                    gauge!("suture_children", labels)
                });
                // Exact up to 2^53 children.
                #[allow(clippy::cast_precision_loss)]
                gauge.set(count as f64);
            }
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use super::Reason;

    /// Without the `metrics` feature: nothing.
    pub(crate) struct Meters;

    impl Meters {
        pub(crate) fn new(_path: &std::sync::Arc<str>) -> Meters {
            Meters
        }
        pub(crate) fn none() -> Meters {
            Meters
        }
        pub(crate) fn started(&self) {}
        pub(crate) fn restarted(&self, _reason: Reason) {}
        pub(crate) fn panicked(&self) {}
        pub(crate) fn backed_off(&self) {}
        pub(crate) fn escalated(&self) {}
        pub(crate) fn stop_timed_out(&self) {}
        pub(crate) fn children(&mut self, _counts: &[u64; 6]) {}
    }
}
