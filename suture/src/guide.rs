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
