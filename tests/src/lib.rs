//! Helpers shared by suture's integration tests (in `tests/`), written once.

use std::time::Duration;

use suture::{ChildState, Context, Service, SupervisorHandle, service_fn};

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

/// Each child of `handle`'s supervisor as (name, state, restarts), in start order.
pub async fn states(handle: &SupervisorHandle) -> Vec<(String, ChildState, u64)> {
    handle
        .children()
        .await
        .expect("the supervisor answers")
        .into_iter()
        .map(|c| (c.name, c.state, c.restarts))
        .collect()
}

/// One expected row of [`states`].
pub fn row(name: &str, state: ChildState, restarts: u64) -> (String, ChildState, u64) {
    (name.to_owned(), state, restarts)
}

pub mod process {
    //! A program run by a test in a process of its own (for real signals, and for
    //! process-wide settings such as environment variables), its output read line by line.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
    use std::thread;
    use std::time::{Duration, Instant};

    /// A running program, its stdout (`out: ...`) and stderr (`err: ...`) merged line by
    /// line. Every wait is bounded by the deadline given at spawn: it only turns a hang into
    /// a failure, it is never waited out. Killed if the test ends early.
    #[derive(Debug)]
    pub struct Probe {
        child: Child,
        stdin: Option<ChildStdin>,
        lines: Receiver<String>,
        transcript: Vec<String>,
        bound: Duration,
        deadline: Instant,
    }

    impl Probe {
        /// Spawns `command` with its standard streams piped; the whole run must end within
        /// `bound`.
        pub fn spawn(mut command: Command, bound: Duration) -> Probe {
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the probe was built with the tests");
            let (tx, lines) = mpsc::channel();
            forward(child.stdout.take().expect("piped"), "out", tx.clone());
            forward(child.stderr.take().expect("piped"), "err", tx);
            let stdin = child.stdin.take();
            Probe {
                child,
                stdin,
                lines,
                transcript: Vec::new(),
                bound,
                deadline: Instant::now() + bound,
            }
        }

        /// Writes one line to the program's stdin.
        pub fn command(&mut self, line: &str) {
            let stdin = self.stdin.as_mut().expect("stdin not taken");
            writeln!(stdin, "{line}").expect("the probe reads stdin");
        }

        /// Takes the program's stdin, e.g. to close it.
        pub fn stdin(&mut self) -> ChildStdin {
            self.stdin.take().expect("stdin not taken")
        }

        /// Returns once a line contains `needle`, reading more if none read so far does.
        pub fn expect(&mut self, needle: &str) {
            if self.transcript.iter().any(|line| line.contains(needle)) {
                return;
            }
            loop {
                let remaining = self.deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(remaining) {
                    Ok(line) => {
                        let found = line.contains(needle);
                        self.transcript.push(line);
                        if found {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        self.fail(&format!("no line with `{needle}`"))
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        self.fail(&format!("exited before a line with `{needle}`"))
                    }
                }
            }
        }

        /// Sends it a signal by name (`INT`, `TERM`), through `kill`.
        pub fn signal(&self, name: &str) {
            let status = Command::new("kill")
                .args([&format!("-{name}"), &self.child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -{name} failed");
        }

        /// Reads the rest of the output, then the exit status.
        pub fn finish(&mut self) -> ExitStatus {
            loop {
                let remaining = self.deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(remaining) {
                    Ok(line) => self.transcript.push(line),
                    // Both pipes closed: the process has exited.
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => self.fail("the probe did not exit"),
                }
            }
            self.child.wait().expect("wait")
        }

        /// The lines read so far.
        pub fn transcript(&self) -> &[String] {
            &self.transcript
        }

        /// The lines read so far, one per line.
        pub fn output(&self) -> String {
            self.transcript.join("\n")
        }

        /// Kills the program and fails the test, showing its output.
        pub fn fail(&mut self, what: &str) -> ! {
            let _ = self.child.kill();
            panic!(
                "{what} within {:?}; output so far:\n{}",
                self.bound,
                self.output()
            );
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn forward(pipe: impl Read + Send + 'static, tag: &'static str, tx: mpsc::Sender<String>) {
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(format!("{tag}: {line}")).is_err() {
                    break;
                }
            }
        });
    }
}
