//! Helpers shared by suture's integration tests (in `tests/`), written once.

use std::time::Duration;

use suture::{Context, Service, service_fn};

/// One second, the unit most tests count in on tokio's paused clock.
pub const SECOND: Duration = Duration::from_secs(1);

/// How long a stop may take beyond a child's budget: the abort, then the grace the runtime
/// gives an aborted task before it reports it unstoppable (its `ABORT_GRACE`).
pub const ABORT_GRACE: Duration = Duration::from_millis(100);

/// A service that runs until it is told to stop, then returns `Ok(())`.
pub fn idle(name: &'static str) -> impl Service {
    service_fn(name, |ctx: Context| async move {
        ctx.cancelled().await;
        Ok(())
    })
}
