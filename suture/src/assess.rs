//! What the service manager is told: whether the root's loop answers, and which paths are not
//! healthy. Shared by the systemd notifier and the health endpoint.
//!
//! [`assess`] is the one place that turns a tree into a verdict: which paths are in trouble
//! comes from the supervisors' own [`Health`] (kept up to date by them, so a finished
//! transient child or a child not started yet is judged as the tree judges it); the tree adds
//! what each of those paths is doing, for people.

use std::fmt::Write as _;
use std::time::Duration;

use crate::health::Health;
use crate::supervisor::SupervisorHandle;
use crate::tree::{ChildState, Escaped, TreeNode};

/// Roughly the longest [`Assessment::summary`], in bytes.
#[cfg_attr(not(all(feature = "systemd", unix)), allow(dead_code))]
pub(crate) const SUMMARY_LIMIT: usize = 400;

/// A tree's health, as the service manager needs it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// The root's health: its whole subtree's.
    pub(crate) health: Health,
    /// How many nodes below the root are running.
    pub(crate) running: usize,
    /// The nodes that are not, in tree order: `(path, what they are doing)`.
    pub(crate) not_healthy: Vec<(String, &'static str)>,
}

impl Assessment {
    /// Healthy: the root says its whole subtree runs (and is ready).
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub(crate) fn is_healthy(&self) -> bool {
        self.health.is_healthy()
    }

    /// One line for systemd's `STATUS=`, e.g. `3 running; backing off: app/feed`. Paths are
    /// escaped, so that a name cannot break the line, and the line stops listing them at
    /// about [`SUMMARY_LIMIT`] bytes (`... and 9990 more`): a pool of 10,000 backed-off
    /// workers must still fit in one datagram.
    #[cfg_attr(not(all(feature = "systemd", unix)), allow(dead_code))]
    pub(crate) fn summary(&self) -> String {
        let mut line = format!("{} running", self.running);
        if self.not_healthy.is_empty() && !self.is_healthy() {
            // Starting, stopping, stopped or failed as a whole: no path to name.
            let _ = write!(line, "; {}", self.health.label());
        }
        let mut last_state = None;
        for (listed, (path, state)) in self.not_healthy.iter().enumerate() {
            if line.len() >= SUMMARY_LIMIT {
                let _ = write!(line, " ... and {} more", self.not_healthy.len() - listed);
                break;
            }
            if last_state == Some(*state) {
                line.push_str(", ");
            } else {
                let _ = write!(line, "; {state}: ");
                last_state = Some(*state);
            }
            push_escaped(&mut line, path);
        }
        line
    }

    /// The body of a `503` from `/readyz`: each path not running and what it is doing, one
    /// per line, or the root's state when it has no path to name (starting, stopping,
    /// stopped or failed as a whole).
    #[cfg_attr(not(feature = "health"), allow(dead_code))]
    pub(crate) fn not_ready(&self) -> String {
        if self.not_healthy.is_empty() {
            return format!("not ready: {}\n", self.health.label());
        }
        let mut body = String::from("not ready:\n");
        for (path, doing) in &self.not_healthy {
            push_escaped(&mut body, path);
            let _ = writeln!(body, " {doing}");
        }
        body
    }
}

/// The health of `tree`: the paths its root names as not healthy, each with what it is doing.
pub(crate) fn assess(tree: &TreeNode) -> Assessment {
    let mut assessment = Assessment {
        health: tree.health.clone(),
        ..Assessment::default()
    };
    let in_trouble: std::collections::HashSet<&str> =
        tree.health.unhealthy().iter().map(|path| &**path).collect();
    let mut not_healthy: Vec<(ChildState, String)> = Vec::new();
    tree.walk(&mut |node| {
        let Some(state) = node.state else {
            return; // the root itself: it answered
        };
        if state == ChildState::Running {
            assessment.running += 1;
        }
        // Starting as a whole names no path: those starting are the ones to name.
        let starting = assessment.health == Health::Starting && state == ChildState::Starting;
        if starting || in_trouble.contains(node.path.as_str()) {
            not_healthy.push((state, node.path.clone()));
        }
    });
    // Grouped by state (stable: tree order within a state), for a readable summary.
    not_healthy.sort_by_key(|(state, _)| rank(*state));
    assessment.not_healthy = not_healthy
        .into_iter()
        .map(|(state, path)| (path, doing(state)))
        .collect();
    assessment
}

/// Whether the root's loop answers a request within `within`.
pub(crate) async fn loop_answers(root: &SupervisorHandle, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, root.children()).await,
        Ok(Ok(_))
    )
}

/// Appends `text` escaped as the printed tree shows it (control characters, line and
/// paragraph separators, bidirectional formatting), so that it stays on one line and reads
/// as it is.
fn push_escaped(out: &mut String, text: &str) {
    let _ = write!(out, "{}", Escaped(text));
}

fn rank(state: ChildState) -> u8 {
    match state {
        ChildState::BackedOff => 0,
        ChildState::Restarting => 1,
        ChildState::Starting => 2,
        ChildState::Stopping => 3,
        ChildState::Stopped => 4,
        ChildState::Running => 5,
    }
}

fn doing(state: ChildState) -> &'static str {
    match state {
        ChildState::BackedOff => "backing off",
        ChildState::Restarting => "restarting",
        ChildState::Starting => "starting",
        ChildState::Stopping => "stopping",
        ChildState::Stopped => "stopped",
        ChildState::Running => "running",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn node(path: &str, state: Option<ChildState>, children: Vec<TreeNode>) -> TreeNode {
        TreeNode {
            name: path.rsplit('/').next().unwrap_or(path).to_owned(),
            path: path.to_owned(),
            state,
            health: state.map_or(Health::Healthy, Health::of_state),
            restarts: 0,
            last_error: None,
            uptime: None,
            children,
        }
    }

    #[test]
    fn not_ready_names_each_path_or_else_the_roots_state() {
        let stopping = Assessment {
            health: Health::Stopping,
            ..Assessment::default()
        };
        assert_eq!(stopping.not_ready(), "not ready: stopping\n");
        let one_down = Assessment {
            health: Health::Stopping,
            running: 1,
            not_healthy: vec![("app/feed".to_owned(), "backing off")],
        };
        assert_eq!(one_down.not_ready(), "not ready:\napp/feed backing off\n");
    }

    #[test]
    fn a_path_is_escaped_as_the_tree_prints_it() {
        let name = "evil\u{2067}name\u{2069}\n";
        let mut out = String::new();
        push_escaped(&mut out, name);
        assert_eq!(out, Escaped(name).to_string());
        assert_eq!(out, "evil\\u{2067}name\\u{2069}\\n");
    }

    #[test]
    fn a_tree_all_running_is_healthy() {
        let tree = node(
            "",
            None,
            vec![
                node("app/db", Some(ChildState::Running), vec![]),
                node(
                    "app/web",
                    Some(ChildState::Running),
                    vec![node("app/web/http", Some(ChildState::Running), vec![])],
                ),
            ],
        );
        let assessment = assess(&tree);
        assert!(assessment.is_healthy());
        assert_eq!(assessment.running, 3);
        assert_eq!(assessment.summary(), "3 running");
    }

    /// The root as its supervisor sums it up: degraded, naming `paths`.
    fn degraded(mut root: TreeNode, paths: &[&str]) -> TreeNode {
        root.health = Health::Degraded {
            unhealthy: paths.iter().map(|p| Arc::from(*p)).collect(),
        };
        root
    }

    #[test]
    fn paths_not_running_are_listed_grouped_by_state_and_escaped() {
        let tree = node(
            "",
            None,
            vec![
                node("app/db", Some(ChildState::Starting), vec![]),
                node("app/feed", Some(ChildState::BackedOff), vec![]),
                node(
                    "app/web",
                    Some(ChildState::Running),
                    vec![
                        node("app/web/http", Some(ChildState::BackedOff), vec![]),
                        node("app/web/evil\nSTATUS=x", Some(ChildState::Stopped), vec![]),
                        // A finished transient child: stopped, and fine by its supervisor.
                        node("app/web/done", Some(ChildState::Stopped), vec![]),
                    ],
                ),
            ],
        );
        let tree = degraded(
            tree,
            &[
                "app/db",
                "app/feed",
                "app/web/http",
                "app/web/evil\nSTATUS=x",
            ],
        );
        let assessment = assess(&tree);
        assert!(!assessment.is_healthy());
        assert_eq!(
            assessment.not_healthy,
            [
                ("app/feed".to_owned(), "backing off"),
                ("app/web/http".to_owned(), "backing off"),
                ("app/db".to_owned(), "starting"),
                ("app/web/evil\nSTATUS=x".to_owned(), "stopped"),
            ]
        );
        assert_eq!(
            assessment.summary(),
            "1 running; backing off: app/feed, app/web/http; starting: app/db; \
             stopped: app/web/evil\\nSTATUS=x"
        );
    }

    #[test]
    fn a_long_summary_is_cut_with_a_count() {
        let workers = (0..10_000)
            .map(|i| {
                node(
                    &format!("app/pool/w{i}"),
                    Some(ChildState::BackedOff),
                    vec![],
                )
            })
            .collect();
        let paths: Vec<String> = (0..10_000).map(|i| format!("app/pool/w{i}")).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let summary = assess(&degraded(node("", None, workers), &paths)).summary();
        assert!(summary.len() < SUMMARY_LIMIT + 64, "{summary}");
        assert!(summary.starts_with("0 running; backing off: app/pool/w0, app/pool/w1"));
        assert!(summary.ends_with(" more"), "{summary}");
    }
}
