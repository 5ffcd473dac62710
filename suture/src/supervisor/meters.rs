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
    use metrics::{Counter, Gauge, Label, counter, gauge};

    use super::{Reason, STATES};

    struct Handles {
        starts: Counter,
        /// By [`Reason`]: failed, panicked, returned.
        restarts: [Counter; 3],
        panics: Counter,
        backoffs: Counter,
        escalations: Counter,
        stop_timeouts: Counter,
        /// By state, in the order of [`STATES`].
        children: [Gauge; 6],
        /// The counts last set.
        shown: [u64; 6],
    }

    /// The metrics of one serve of a supervisor.
    pub(crate) struct Meters(Option<Box<Handles>>);

    impl Meters {
        pub(crate) fn new(path: &str) -> Meters {
            let label = || vec![Label::new("supervisor", path.to_owned())];
            let with = |key: &'static str, value: String| {
                let mut labels = label();
                labels.push(Label::new(key, value));
                labels
            };
            let restarts = |reason: &'static str| {
                counter!("suture_restarts_total", with("reason", reason.to_owned()))
            };
            // Label values in snake case, as Prometheus has them.
            let children = STATES.map(|state| {
                let state = state.to_string().replace(' ', "_");
                gauge!("suture_children", with("state", state))
            });
            Meters(Some(Box::new(Handles {
                starts: counter!("suture_starts_total", label()),
                restarts: [
                    restarts("failed"),
                    restarts("panicked"),
                    restarts("returned"),
                ],
                panics: counter!("suture_panics_total", label()),
                backoffs: counter!("suture_backoffs_total", label()),
                escalations: counter!("suture_escalations_total", label()),
                stop_timeouts: counter!("suture_stop_timeouts_total", label()),
                children,
                shown: [u64::MAX; 6],
            })))
        }

        /// For a supervisor not being served: registers nothing.
        pub(crate) fn none() -> Meters {
            Meters(None)
        }

        pub(crate) fn started(&self) {
            if let Some(m) = &self.0 {
                m.starts.increment(1);
            }
        }

        pub(crate) fn restarted(&self, reason: Reason) {
            if let Some(m) = &self.0 {
                m.restarts[reason as usize].increment(1);
            }
        }

        pub(crate) fn panicked(&self) {
            if let Some(m) = &self.0 {
                m.panics.increment(1);
            }
        }

        pub(crate) fn backed_off(&self) {
            if let Some(m) = &self.0 {
                m.backoffs.increment(1);
            }
        }

        pub(crate) fn escalated(&self) {
            if let Some(m) = &self.0 {
                m.escalations.increment(1);
            }
        }

        pub(crate) fn stop_timed_out(&self) {
            if let Some(m) = &self.0 {
                m.stop_timeouts.increment(1);
            }
        }

        /// Sets the children-by-state gauges that changed.
        pub(crate) fn children(&mut self, counts: &[u64; 6]) {
            if let Some(m) = &mut self.0 {
                for (i, &count) in counts.iter().enumerate() {
                    if m.shown[i] != count {
                        m.shown[i] = count;
                        // Exact up to 2^53 children.
                        #[allow(clippy::cast_precision_loss)]
                        m.children[i].set(count as f64);
                    }
                }
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
        pub(crate) fn new(_path: &str) -> Meters {
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
