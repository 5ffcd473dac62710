//! The guide: how supervision works in suture, how it cooperates with systemd and Kubernetes,
//! and where it differs from Go's suture and OTP.
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
//! Children start in the order they were added, and that order is a dependency order. A
//! child with a ready timeout ([`ChildSpec::ready_within`](crate::ChildSpec::ready_within))
//! must call [`Context::ready`](crate::Context::ready) before the next one starts. A child
//! that fails before it is ready, or whose ready timeout passes, has failed like any other:
//! the policy restarts it (counted toward intensity, so a broken dependency ends in a backoff
//! or an escalation), and the children after it keep waiting until it has been ready once.
//! The children before it run on meanwhile, and restart at once if they fail. The same holds
//! in a group restart (`one_for_all`, `rest_for_one`), which starts its members in order
//! again; a ready-gated child restarting on its own once start-up is done holds no one up.
//! Where the next children cannot work without it, use `rest_for_one`: they restart whenever
//! it does. On shutdown they stop
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
//! dynamic supervisors nest in each other freely. It stays typed while it runs: `handle()`
//! gives a generated handle with one method per field, a [`ChildRef`](crate::ChildRef) to
//! stop, start or restart a child in place, the nested supervisor's own typed handle, or a
//! [`PoolHandle`](crate::PoolHandle) to grow a `Vec<T>` pool; `Option<T>` fields are
//! children only some configurations run.
//!
//! # Beyond the process: the service manager
//!
//! A tree ends at the process. Past it, supervision belongs to systemd or Kubernetes: they
//! restart the process when the tree gives up, and a wedged process when nothing inside can
//! notice. [`suture::run`](crate::run) speaks to them in two ways: the exit status, and (with
//! the features below) what it says while it runs. The exit status:
//!
//! | status    | when                                                            | restarted?                              |
//! |-----------|-----------------------------------------------------------------|-----------------------------------------|
//! | 0         | a clean stop: a signal or a trigger asked, or the root returned `Ok(())` | no: it was asked for, or it is done |
//! | 1         | the root failed: intensity exceeded at the root, `TerminateTree`, an error, a panic; or services would not stop | yes: escalation past the process |
//! | 130 / 143 | a second SIGINT / SIGTERM forced the exit during the shutdown   | a person did it: as they asked          |
//!
//! And the tree's health, as the service manager is told it: every node below the root
//! running is *healthy*; a node starting, stopping, restarting, backing off or stopped makes
//! the tree *not ready*, naming its path; the root's loop not answering a request within a
//! moment (half a second, or half the watchdog interval) makes the process *not alive*.
//! A child crash-looping behind a backoff is the tree doing its job: the process is still
//! alive, and restarting it would not help; it is only not ready.
//!
//! # Running under systemd
//!
//! With the `systemd` feature, [`Runner`](crate::Runner) speaks systemd's notification
//! protocol when the process was started by it (`NOTIFY_SOCKET` set; otherwise it says
//! nothing): `READY=1` once the root's start-up is complete, `STATUS=` a one-line summary
//! whenever it changes (`4 running; backing off: app/feed`, shown by `systemctl status`),
//! `WATCHDOG=1` at half the watchdog interval while the root's loop answers, and
//! `STOPPING=1` when shutdown begins. [`Runner::systemd_notify`](crate::Runner::systemd_notify)
//! turns it off. A supervisor says it is ready once its own start-up is complete, so give
//! a nested supervisor a ready timeout ([`ChildSpec::ready_within`](crate::ChildSpec::ready_within),
//! `#[child(ready = 10s)]`) for its start-up to count in the root's. A unit for it:
//!
//! ```ini
//! [Unit]
//! Description=chat server
//! After=network-online.target
//! Wants=network-online.target
//! # At most 5 starts in 5 minutes: the process-level intensity. Past it the unit fails.
//! StartLimitIntervalSec=300
//! StartLimitBurst=5
//!
//! [Service]
//! ExecStart=/usr/local/bin/chat
//! # Started means READY=1: every initial child started, the ready-gated ones ready.
//! # Units ordered After= this one wait for it.
//! Type=notify
//! TimeoutStartSec=60
//! # WATCHDOG=1 comes every 10 s while the root's loop answers. A stuck tree goes
//! # silent; after 20 s systemd kills the process (SIGABRT) and Restart= applies.
//! WatchdogSec=20
//! # Exit 1 (the tree gave up), a watchdog kill or a crash restarts it; exit 0 does not.
//! Restart=on-failure
//! RestartSec=2
//! # `systemctl stop` sends SIGTERM once: the tree stops in order, each service within
//! # its budget. The budgets must fit in this, or SIGKILL ends it first.
//! TimeoutStopSec=30
//! Environment=RUST_LOG=info
//!
//! [Install]
//! WantedBy=multi-user.target
//! ```
//!
//! Against the exit statuses: `systemctl stop` (SIGTERM) ends in 0 and the unit is
//! inactive; the root failing ends in 1 and `Restart=on-failure` starts the process again
//! after `RestartSec=`, until `StartLimitBurst=` restarts in `StartLimitIntervalSec=` mark the
//! unit failed (a crash loop one level up, handled as the tree handles its own); 130 / 143
//! only happen when someone sends a second signal by hand, and systemd counts them as
//! failures unless the unit lists them in `SuccessExitStatus=`. The watchdog covers what no
//! exit status can: a root whose loop is stuck (a blocked thread, a deadlock in an event
//! hook) stops the pings, and systemd restarts the process. The notifications come from the
//! main process, as `NotifyAccess=main` (the default) wants; the pings stop when `WATCHDOG_PID`
//! names another process.
//!
//! # Running under Kubernetes
//!
//! With the `health` feature, [`HealthEndpoint`](crate::health::HealthEndpoint) is a service
//! serving `/livez`, `/readyz` and `/tree` over HTTP. Add it first, so that it starts first
//! and stops last, and bind it where the kubelet can reach it:
//!
//! ```text
//! app.add(HealthEndpoint::new(app.handle()).bind(([0, 0, 0, 0], 8081)))?;
//! ```
//!
//! Then the Deployment's probes:
//!
//! ```yaml
//! apiVersion: apps/v1
//! kind: Deployment
//! metadata:
//!   name: chat
//! spec:
//!   replicas: 3
//!   selector:
//!     matchLabels: { app: chat }
//!   template:
//!     metadata:
//!       labels: { app: chat }
//!     spec:
//!       # SIGTERM, then SIGKILL after this: the tree's shutdown budgets must fit in it.
//!       terminationGracePeriodSeconds: 30
//!       containers:
//!         - name: chat
//!           image: registry.example.com/chat:1.0
//!           env:
//!             - { name: RUST_LOG, value: info }
//!           ports:
//!             - { name: http, containerPort: 8080 }
//!             - { name: health, containerPort: 8081 }
//!           # Holds the other probes off while the tree starts (ready-gated children
//!           # may take a while): up to 30 x 2 s.
//!           startupProbe:
//!             httpGet: { path: /readyz, port: health }
//!             periodSeconds: 2
//!             failureThreshold: 30
//!           # Restart the container only when the process is wedged: the root's loop
//!           # does not answer (or the root has stopped).
//!           livenessProbe:
//!             httpGet: { path: /livez, port: health }
//!             periodSeconds: 10
//!             timeoutSeconds: 1
//!             failureThreshold: 3
//!           # No traffic while any path is not running (backing off, restarting...).
//!           readinessProbe:
//!             httpGet: { path: /readyz, port: health }
//!             periodSeconds: 5
//!             timeoutSeconds: 1
//!             failureThreshold: 1
//! ```
//!
//! Against the health states: a child backing off makes `/readyz` answer 503 with its path,
//! and the pod leaves the Service's endpoints without a restart; when the child runs again
//! (its backoff over, or an operator restarting it), `/readyz` answers 200 and traffic comes
//! back. `/livez` stays 200 through all of it: a database outage must not restart every pod
//! in a loop. It fails only when the root's loop does not answer within half a second (well
//! under `timeoutSeconds`), and then a restart is what helps.
//!
//! Against the exit statuses: when the tree gives up (intensity exceeded at the root), `run`
//! exits 1 and the kubelet restarts the container (with its own growing back-off,
//! `CrashLoopBackOff`, past repeated failures). At pod deletion the container gets SIGTERM,
//! the tree stops in order, and `run` exits 0; during that shutdown `/readyz` answers 503
//! (children stopping) and `/livez` 200, so the kubelet neither sends traffic nor kills it
//! early. A tree slower than `terminationGracePeriodSeconds` is killed by SIGKILL (exit 137).
//! `/tree` prints the tree, for a person with `kubectl port-forward`.
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
