//! The restart decision: how a child's run ended, and what its supervisor does about it.
//!
//! Pure: no clock, no tasks. The machine asks, then acts.

use crate::error::{ServiceError, Special};
use crate::panic::PanicReport;
use crate::service::Outcome;
use crate::spec::{Restart, Strategy};

/// How a child's run ended, as the policy sees it.
pub(crate) enum OutcomeKind {
    Normal,
    Failed(ServiceError),
    Panicked(Box<PanicReport>),
    DoNotRestart,
    TerminateTree,
}

impl OutcomeKind {
    pub(crate) fn of(outcome: Outcome) -> OutcomeKind {
        match outcome {
            Outcome::Returned(Ok(())) => OutcomeKind::Normal,
            // One walk down the error's sources, not one per special outcome.
            Outcome::Returned(Err(e)) => match e.special() {
                Some(Special::DoNotRestart) => OutcomeKind::DoNotRestart,
                Some(Special::TerminateTree) => OutcomeKind::TerminateTree,
                None => OutcomeKind::Failed(e),
            },
            Outcome::Panicked(report) => OutcomeKind::Panicked(report),
            Outcome::Aborted => {
                OutcomeKind::Failed(ServiceError::msg("the service's task was aborted"))
            }
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
pub(crate) fn decide(end: &OutcomeKind, restart: Restart) -> Decision {
    match (end, restart) {
        (OutcomeKind::DoNotRestart, _) | (_, Restart::Temporary) => Decision::Forget,
        (OutcomeKind::Normal, Restart::Permanent) => Decision::Restart,
        (OutcomeKind::Normal, Restart::Transient) => Decision::Keep,
        (OutcomeKind::Failed(_) | OutcomeKind::Panicked(_) | OutcomeKind::TerminateTree, _) => {
            Decision::Restart
        }
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

    fn failed() -> OutcomeKind {
        OutcomeKind::Failed(ServiceError::msg("boom"))
    }

    #[test]
    fn restart_types_follow_otp() {
        let table = [
            (OutcomeKind::Normal, Restart::Permanent, Decision::Restart),
            (OutcomeKind::Normal, Restart::Transient, Decision::Keep),
            (OutcomeKind::Normal, Restart::Temporary, Decision::Forget),
            (failed(), Restart::Permanent, Decision::Restart),
            (failed(), Restart::Transient, Decision::Restart),
            (failed(), Restart::Temporary, Decision::Forget),
            (
                OutcomeKind::DoNotRestart,
                Restart::Permanent,
                Decision::Forget,
            ),
            (
                OutcomeKind::DoNotRestart,
                Restart::Transient,
                Decision::Forget,
            ),
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
