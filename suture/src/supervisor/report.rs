//! What a supervisor reports: to `tracing` (target `suture`) and to the event hooks.
//!
//! Events are built only when a hook listens; `tracing` filters its own.

use std::sync::Arc;
use std::time::Duration;

use super::meters::{Meters, Reason};
use super::names::Name;
use super::policy::OutcomeKind;
use crate::event::{Event, EventKind, EventSink, Human, Restarting, rounded};
use crate::panic::PanicReport;

/// The reporting side of one serve of a supervisor.
pub(crate) struct Reporter {
    pub(crate) path: Arc<str>,
    sink: Arc<EventSink>,
    pub(crate) meters: Meters,
}

impl Reporter {
    pub(crate) fn new(path: Arc<str>, sink: Arc<EventSink>) -> Self {
        let meters = Meters::new(&path);
        Reporter { path, sink, meters }
    }

    /// For a supervisor not being served: it registers no metrics.
    pub(crate) fn idle(path: Arc<str>, sink: Arc<EventSink>) -> Self {
        Reporter {
            path,
            sink,
            meters: Meters::none(),
        }
    }

    pub(crate) fn sink(&self) -> &Arc<EventSink> {
        &self.sink
    }

    /// Delivers an event to the hooks, building it only if one listens.
    fn emit(&self, kind: impl FnOnce() -> EventKind) {
        if self.sink.is_active() {
            let event = Event {
                supervisor: self.path.clone(),
                kind: kind(),
            };
            self.sink.deliver(&event);
        }
    }

    pub(crate) fn started(&self, service: &Name, restarts: u64) {
        self.meters.started();
        tracing::debug!(target: "suture", supervisor = %self.path, service = %service, restarts, "service started");
        self.emit(|| EventKind::Started {
            service: service.shared(),
            restarts,
        });
    }

    /// How a child ended, and what the supervisor does about it.
    pub(crate) fn ended(
        &self,
        name: &Name,
        end: &OutcomeKind,
        restarting: Restarting,
        failures: f64,
    ) {
        let sup = &*self.path;
        let reason = match end {
            OutcomeKind::Panicked(_) => {
                self.meters.panicked();
                Reason::Panicked
            }
            OutcomeKind::Failed(_) => Reason::Failed,
            _ => Reason::Returned,
        };
        if restarting != Restarting::No {
            self.meters.restarted(reason);
        }
        match end {
            OutcomeKind::Panicked(report) => {
                tracing::error!(
                    target: "suture",
                    supervisor = %sup,
                    service = %name,
                    panic = %report.message,
                    location = report.location.as_deref().unwrap_or("unknown"),
                    restarting = %restarting,
                    failures = rounded(failures),
                    "service panicked"
                );
                self.emit(|| EventKind::Panicked {
                    service: name.shared(),
                    message: report.message.to_string(),
                    location: report.location.clone(),
                    backtrace: report.backtrace.clone(),
                    restarting,
                    failures,
                });
            }
            OutcomeKind::Failed(error) => {
                tracing::error!(target: "suture", supervisor = %sup, service = %name, error = %format_args!("{error:#}"), restarting = %restarting, failures = rounded(failures), "service failed");
                self.emit(|| EventKind::Terminated {
                    service: name.shared(),
                    error: Some(format!("{error:#}")),
                    restarting,
                    failures,
                });
            }
            OutcomeKind::Normal | OutcomeKind::DoNotRestart | OutcomeKind::TerminateTree => {
                tracing::info!(target: "suture", supervisor = %sup, service = %name, restarting = %restarting, "service returned");
                self.emit(|| EventKind::Terminated {
                    service: name.shared(),
                    error: None,
                    restarting,
                    failures,
                });
            }
        }
    }

    pub(crate) fn tree_terminated(&self, service: &Name) {
        tracing::warn!(target: "suture", supervisor = %self.path, service = %service, "service asked to terminate the tree");
        self.emit(|| EventKind::TreeTerminated {
            service: service.shared(),
        });
    }

    pub(crate) fn backoff_started(&self, pause: Duration, failures: f64) {
        self.meters.backed_off();
        tracing::warn!(target: "suture", supervisor = %self.path, failures = rounded(failures), pause = %Human(pause), "restart intensity exceeded, backing off");
        self.emit(|| EventKind::BackoffStarted { pause, failures });
    }

    pub(crate) fn backoff_ended(&self) {
        tracing::info!(target: "suture", supervisor = %self.path, "backoff ended, resuming restarts");
        self.emit(|| EventKind::BackoffEnded);
    }

    pub(crate) fn escalated(&self, failures: f64, threshold: f64) {
        self.meters.escalated();
        tracing::error!(target: "suture", supervisor = %self.path, failures = rounded(failures), threshold, "restart intensity exceeded, escalating");
        self.emit(|| EventKind::Escalated {
            failures,
            threshold,
        });
    }

    pub(crate) fn auto_shutdown(&self, service: &Name) {
        tracing::info!(target: "suture", supervisor = %self.path, service = %service, "significant child finished, shutting down");
    }

    pub(crate) fn stop_timeout(&self, service: &Name) {
        self.meters.stop_timed_out();
        tracing::warn!(target: "suture", supervisor = %self.path, service = %service, "service did not stop within its budget, aborted");
        self.emit(|| EventKind::StopTimeout {
            service: service.shared(),
        });
    }

    /// A child told to stop at shutdown has stopped (`aborted`: once its budget was spent).
    pub(crate) fn stopped(&self, service: &Name, aborted: bool) {
        tracing::debug!(target: "suture", supervisor = %self.path, service = %service, aborted, "service stopped");
    }

    pub(crate) fn unstoppable(&self, service: &Name) {
        tracing::error!(target: "suture", supervisor = %self.path, service = %service, "service did not stop even when aborted");
    }

    /// A service's `Drop` panicked; the supervisor carries on.
    pub(crate) fn drop_panicked(&self, service: &Name, report: &PanicReport) {
        tracing::error!(
            target: "suture",
            supervisor = %self.path,
            service = %service,
            panic = %report.message,
            location = report.location.as_deref().unwrap_or("unknown"),
            "service panicked while being dropped"
        );
        self.emit(|| EventKind::DropPanicked {
            service: service.shared(),
            message: report.message.to_string(),
            location: report.location.clone(),
        });
    }
}
