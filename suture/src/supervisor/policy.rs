//! The restart decision: how a child's run ended, and what its supervisor does about it.
//!
//! Pure: no clock, no tasks. The machine asks, then acts.

use std::sync::Arc;

use crate::error::ServiceError;
use crate::panic::PanicReport;
use crate::service::Outcome;
use crate::spec::{Restart, Strategy};

/// How a child's run ended, as the policy sees it.
pub(crate) enum End {
    Normal,
    Failed(Arc<ServiceError>),
    Panicked(Box<PanicReport>),
    DoNotRestart,
    TerminateTree,
}

impl End {
    pub(crate) fn of(outcome: Outcome) -> End {
        match outcome {
            Outcome::Returned(Ok(())) => End::Normal,
            Outcome::Returned(Err(e)) if e.is_do_not_restart() => End::DoNotRestart,
            Outcome::Returned(Err(e)) if e.is_terminate_tree() => End::TerminateTree,
            Outcome::Returned(Err(e)) => End::Failed(Arc::new(e)),
            Outcome::Panicked(report) => End::Panicked(report),
            Outcome::Aborted => End::Failed(Arc::new(ServiceError::msg(
                "the service's task was aborted",
            ))),
        }
    }
}

/// What the supervisor does with a child that ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Restart it (and its group), counting toward intensity.
    Restart,
    /// Leave it stopped; it can be started again by request.
    Keep,
    /// Forget it: a temporary child, or one that asked never to run again.
    Forget,
}

/// The restart types' rule: permanent always restarts, transient after a failure,
/// temporary never; `DoNotRestart` overrides them all.
pub(crate) fn decide(end: &End, restart: Restart) -> Decision {
    match (end, restart) {
        (End::DoNotRestart, _) | (_, Restart::Temporary) => Decision::Forget,
        (End::Normal, Restart::Permanent) => Decision::Restart,
        (End::Normal, Restart::Transient) => Decision::Keep,
        (End::Failed(_) | End::Panicked(_) | End::TerminateTree, _) => Decision::Restart,
    }
}

/// Whether `sibling` restarts with `failed` under `strategy` (ids are in start order).
pub(crate) fn in_group(strategy: Strategy, failed: u64, sibling: u64) -> bool {
    match strategy {
        Strategy::OneForOne => sibling == failed,
        Strategy::OneForAll => true,
        Strategy::RestForOne => sibling >= failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> End {
        End::Failed(Arc::new(ServiceError::msg("boom")))
    }

    #[test]
    fn restart_types_follow_otp() {
        let table = [
            (End::Normal, Restart::Permanent, Decision::Restart),
            (End::Normal, Restart::Transient, Decision::Keep),
            (End::Normal, Restart::Temporary, Decision::Forget),
            (failed(), Restart::Permanent, Decision::Restart),
            (failed(), Restart::Transient, Decision::Restart),
            (failed(), Restart::Temporary, Decision::Forget),
            (End::DoNotRestart, Restart::Permanent, Decision::Forget),
            (End::DoNotRestart, Restart::Transient, Decision::Forget),
        ];
        for (end, restart, expected) in table {
            assert_eq!(decide(&end, restart), expected, "{restart:?}");
        }
    }

    #[test]
    fn groups_follow_the_strategy() {
        assert!(in_group(Strategy::OneForOne, 2, 2));
        assert!(!in_group(Strategy::OneForOne, 2, 3));
        assert!(in_group(Strategy::OneForAll, 2, 1));
        assert!(!in_group(Strategy::RestForOne, 2, 1));
        assert!(in_group(Strategy::RestForOne, 2, 3));
    }
}
