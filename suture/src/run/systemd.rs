//! Telling systemd the truth (`sd_notify`): `READY=1` once the root's start-up is complete,
//! `STATUS=` when the tree's health changes, `WATCHDOG=1` only while the root's loop answers,
//! `STOPPING=1` when shutdown begins. Nothing at all when `NOTIFY_SOCKET` is unset.
//!
//! The status line is built when the health changes, not on every tick: its count of running
//! children is as of that change (a pool grown while healthy shows at the next change).

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::assess::{assess, loop_answers};
use crate::supervisor::SupervisorHandle;

/// How often the tree's health is looked at when no watchdog asks for more.
const STATUS_PERIOD: Duration = Duration::from_secs(1);

/// The notifier of one [`run`](super::Runner::run): a task sending to systemd's socket.
#[derive(Debug)]
pub(super) struct Notifier {
    ready: watch::Sender<bool>,
    /// Cancelled (by `run`'s token, or by `stopping`) when shutdown begins.
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts notifying, or `None` when the process was not started by systemd (no
    /// `NOTIFY_SOCKET`). `shutdown` is `run`'s token: its cancellation sends `STOPPING=1`.
    pub(super) fn start(
        root: Option<SupervisorHandle>,
        shutdown: &CancellationToken,
    ) -> Option<Notifier> {
        std::env::var_os("NOTIFY_SOCKET")?;
        // `WATCHDOG_USEC`, honoured only when `WATCHDOG_PID` is unset or this process's pid.
        let watchdog = sd_notify::watchdog_enabled().filter(|interval| !interval.is_zero());
        let (ready, ready_rx) = watch::channel(false);
        let stop = shutdown.child_token();
        let task = tokio::spawn(notify(root, watchdog, ready_rx, stop.clone()));
        Some(Notifier { ready, stop, task })
    }

    /// The root's start-up is complete: sends `READY=1`.
    pub(super) fn ready(&self) {
        self.ready.send_replace(true);
    }

    /// Shutdown has begun (the root ended by itself, or `run` is returning): sends
    /// `STOPPING=1` if it was not sent yet, and waits until it is.
    pub(super) async fn stopping(mut self) {
        self.stop.cancel();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The notifier's task: returns after sending `STOPPING=1`, once `stop` is cancelled.
async fn notify(
    root: Option<SupervisorHandle>,
    watchdog: Option<Duration>,
    mut ready: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    // Pings at half the watchdog interval, as systemd advises; the health is looked at as
    // often, or once a second.
    let period = watchdog.map_or(STATUS_PERIOD, |interval| (interval / 2).min(STATUS_PERIOD));
    // The first look one period in: the root's loop is running by then.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent_ready = false;
    let mut last_status = None;
    let mut last_health = None;
    // Unknown until the first look: only a change is logged.
    let mut answering = None;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            changed = ready.changed(), if !sent_ready => {
                if changed.is_err() {
                    // `run` is gone without a word: it will not be ready.
                    sent_ready = true;
                } else if *ready.borrow_and_update() {
                    sent_ready = true;
                    send(&[NotifyState::Ready]);
                }
            }
            _ = ticks.tick() => {}
        }
        let look = async {
            let Some(root) = &root else {
                // A root that is not a supervisor has no loop to ask: it answers while it runs.
                return (true, None);
            };
            if !loop_answers(root, period).await {
                return (false, None);
            }
            // The tree is walked only when its health has changed since the last status
            // (the supervisors keep it up to date): a steady tree costs a read per tick.
            let health = root.health();
            if last_health.as_ref() == Some(&health) {
                return (true, None);
            }
            let status = tokio::time::timeout(period, root.tree())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|tree| (health, assess(&tree).summary()));
            (true, status)
        };
        let (answers, status) = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            looked = look => looked,
        };
        if answers && answering == Some(false) {
            tracing::info!(target: "suture", "the root's loop answers again; watchdog pings resume");
        } else if !answers && answering != Some(false) && watchdog.is_some() {
            tracing::error!(
                target: "suture",
                "the root's loop does not answer; watchdog pings stop, so systemd restarts the service"
            );
        }
        answering = Some(answers);
        if answers && watchdog.is_some() {
            send(&[NotifyState::Watchdog]);
        }
        if let Some((health, status)) = status {
            if last_status.as_ref() != Some(&status) {
                send(&[NotifyState::Status(&status)]);
                last_status = Some(status);
            }
            last_health = Some(health);
        }
    }
    send(&[NotifyState::Stopping]);
}

/// Sends one datagram; a failure is logged, never fatal (the service manager may be gone).
fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(target: "suture", error = %error, "cannot notify systemd");
    }
}
