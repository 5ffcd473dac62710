//! The guide: how supervision works in suture, and where it differs from Go's suture and OTP.
//!
//! # Strategies
//!
//! When a child has to restart, the supervisor's [`Strategy`](crate::Strategy) says who
//! restarts with it: only itself (`OneForOne`), every sibling (`OneForAll`), or itself and
//! every sibling started after it (`RestForOne`). Siblings are stopped in reverse start order,
//! each within its shutdown budget, and fully stopped before any of the group starts again.
//! Temporary siblings are dropped instead of restarted, as in OTP.
//!
//! # Restart types
//!
//! A child's [`Restart`](crate::Restart) says when it restarts: `Permanent` always (even after
//! `Ok(())`), `Transient` only after a failure or panic, `Temporary` never. A service can also
//! end for good with [`ServiceError::do_not_restart`](crate::ServiceError::do_not_restart), or
//! stop its whole tree with [`ServiceError::terminate_tree`](crate::ServiceError::terminate_tree).
//!
//! # Intensity, backoff and escalation
//!
//! Every restart counts toward one decaying failure count per supervisor:
//! `failures = failures * 0.5^(elapsed / half_life) + 1`. While it stays at or below the
//! threshold, restarts are immediate. Above it, the supervisor either backs off (pauses
//! restarts for the backoff plus jitter, queueing every child that ends meanwhile, then
//! resets the count and restarts the queue in order) or escalates (stops its children and
//! fails to its parent, which handles it like any failing child). The cost is O(1) per
//! restart, whatever the window.
//!
//! # Ordering and shutdown
//!
//! Children start in the order they were added. A child with a ready timeout
//! ([`ChildSpec::ready_within`](crate::ChildSpec::ready_within)) must call
//! [`Context::ready`](crate::Context::ready) before the next one starts. A child that fails
//! before it is ready, or whose ready timeout passes, has failed like any other: the policy
//! restarts it (or backs off, or escalates), and start-up goes on with the next child, so one
//! broken dependency does not hold the rest of the tree back. Where the next children cannot
//! work without it, use `rest_for_one`: they restart whenever it does. On shutdown they stop
//! in reverse order, one at a time, each within its budget; a child still running after its
//! budget is aborted at its next `.await`, and one that still does not finish (it blocks a
//! thread) is listed by
//! [`SupervisorHandle::unstopped_services`](crate::SupervisorHandle::unstopped_services).
//! Large dynamic pools can use [`ShutdownOrder::Concurrent`](crate::ShutdownOrder::Concurrent).
//!
//! # Ending a tree by itself
//!
//! A child marked `significant` (transient or temporary) can end its supervisor: with
//! [`AutoShutdown::AnySignificant`](crate::AutoShutdown::AnySignificant) when one of them
//! finishes for good, with `AllSignificant` when all have. A failing significant child is
//! restarted as usual; only a final end counts. `TerminateTree` stops every supervisor up to
//! the root, except where one is built with `propagate_termination(false)`: that one stops and
//! its parent drops it. Events tell the story: a failure that crosses the threshold is
//! reported after the `BackoffStarted` it causes (as in Go's suture), but before the
//! `Escalated` it causes (cause, then effect, in the escalating supervisor and its parent).
//!
//! # Observing a tree
//!
//! **Logs.** Supervisors log to `tracing` under the target `suture`, with the supervisor's
//! path in `supervisor` and the child's name in `service`; fields are for people: `restarting`
//! is `now`, `after backoff` or `no`, `failures` (the decayed count) is rounded, a backoff's
//! `pause` reads `1m 30s`. Failures and panics are `error`, backoffs and stop time-outs
//! `warn`; a child stopping at shutdown is `debug`, and the root says once, at `info`, that
//! the tree has stopped (`stopped_cleanly`, `aborted`, `unstoppable`).
//!
//! **Spans.** Each run of a child runs inside an `info` span named `service`, with its
//! `path` and its `incarnation` (1 for the first run, 2 after the first restart): what a
//! service logs says who wrote it, e.g. `service{path=app/db incarnation=2}: connected`.
//! The span is a root span (the path already says where it is in the tree); when no
//! subscriber is interested nothing is built, formatted or stored in the task.
//!
//! **Health.** [`SupervisorHandle::health`](crate::SupervisorHandle::health) reads a
//! [`Health`](crate::Health) each supervisor keeps up to date and passes to its parent;
//! [`SupervisorHandle::watch_health`](crate::SupervisorHandle::watch_health) is told of each
//! change. Every node of a [`TreeNode`](crate::TreeNode) snapshot carries one, and the printed
//! tree shows it where it says more than the state:
//!
//! ```text
//! app [degraded (not running: app/listeners/http, app/listeners/https)]
//! ├── db [running, up 2m 0s]
//! └── listeners [running, backing off (not running: app/listeners/http, app/listeners/https), up 2m 0s]
//!     ├── http [backed off, 2 restarts, last error: address in use]
//!     └── https [backed off, 2 restarts, last error: address in use]
//! ```
//!
//! **Metrics** (feature `metrics`, through the [`metrics`](https://docs.rs/metrics) facade:
//! install any recorder, e.g. `metrics-exporter-prometheus`). Every series has the label
//! `supervisor`, the supervisor's path. A series is registered with the recorder when first
//! used (a counter at its first count, a gauge once non-zero), then kept for the serve, so
//! counting costs one atomic add.
//!
//! | Name | Kind | Other labels | Meaning |
//! |------|------|--------------|---------|
//! | `suture_starts_total` | counter | | runs started (first starts and restarts) |
//! | `suture_restarts_total` | counter | `reason`: `failed`, `panicked`, `returned` | children the policy restarted (now or after a backoff), by how they ended |
//! | `suture_panics_total` | counter | | children that panicked |
//! | `suture_backoffs_total` | counter | | times restart intensity was exceeded and restarts paused |
//! | `suture_escalations_total` | counter | | times restart intensity was exceeded and the supervisor failed to its parent |
//! | `suture_stop_timeouts_total` | counter | | children aborted after their shutdown budget |
//! | `suture_children` | gauge | `state`: `starting`, `running`, `stopping`, `restarting`, `backed_off`, `stopped` | children in each state |
//!
//! # Declared trees
//!
//! [`supervisor!`](crate::supervisor!) declares the same runtime objects as the builder, with
//! every setting checked at compile time and the start and stop orders as constants; a
//! declared supervisor is a [`Service`](crate::Service) like any other, so declared and
//! dynamic supervisors nest in each other freely.
//!
//! # Where suture (Rust) differs from Go's suture
//!
//! - Shutdown is ordered (reverse start order), with one budget per child rather than one
//!   shared deadline; services past their budget are aborted, which Go cannot do.
//! - A normal return of a transient or temporary child is not a failure (in Go every return is).
//! - The unstopped report is recursive: it lists blocked services anywhere in the subtree.
//! - There are restart strategies, restart types, escalation and ordered start, from OTP.
//! - Adding to a stopped supervisor is an error, not a silent zero token.
//! - `DoNotRestart` is final even when it is the answer to a group restart's stop request.
//! - Panics are captured per service (message and location in the event) without printing
//!   the default panic message for supervised panics.
//!
//! # Where it differs from OTP
//!
//! - Intensity is a decaying count, not a sliding window of restart timestamps, and it can
//!   back off instead of escalating.
//! - A child failing at start-up is handled by the normal policy instead of failing the
//!   supervisor's own start.
//! - Children added through a handle belong to the supervisor's value and start again when
//!   it is served again.
