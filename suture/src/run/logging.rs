//! The subscriber [`run`](super::run) installs when the program has set none.

/// Installs a `tracing-subscriber` fmt subscriber as the global default, unless the program
/// has set a subscriber (global or scoped) already.
///
/// It honours `RUST_LOG` (default `info`; invalid directives are reported and skipped), and
/// writes to stderr, so that stdout stays the program's own. Colours only on a terminal,
/// and never when `NO_COLOR` is set: under systemd or Kubernetes the logs go to a file or the
/// journal, where escape codes are noise.
#[cfg(feature = "default-logging")]
pub(super) fn install_default() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::LevelFilter;

    if tracing::dispatcher::has_been_set() {
        return;
    }
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    // Fails only if another thread set a global default in between: that one stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Without the `default-logging` feature, the program sets up its logging itself.
#[cfg(not(feature = "default-logging"))]
pub(super) fn install_default() {}
