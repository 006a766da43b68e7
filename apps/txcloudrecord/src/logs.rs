//! Logging: stderr, and for the service also files in `<data-dir>/logs`
//! (`txcloudrecord.YYYY-MM-DD.log`, a new one each day, the last
//! [`KEEP_DAYS`] kept) through `tracing-appender`, so a teacher's "it did not
//! record" can be looked into afterwards. `--log`/`TXCR_LOG` sets the filter.

use std::path::Path;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// Daily log files kept.
pub const KEEP_DAYS: usize = 14;

/// The configured filter (`--log`), else `default`; one that does not parse
/// counts as unset.
fn filter(configured: Option<&str>, default: &str) -> EnvFilter {
    configured
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// Commands other than the service: stderr only.
pub fn init_stderr(configured: Option<&str>, default: &str) {
    let _ = fmt()
        .with_env_filter(filter(configured, default))
        .with_writer(std::io::stderr)
        .try_init();
}

/// The service: stderr plus rotated files in `dir` (when it can be created;
/// otherwise stderr alone, with a warning).
pub fn init_service(configured: Option<&str>, dir: Option<&Path>) {
    let files = dir.map(|d| {
        // The appender reads the folder (to prune old files) before it
        // creates it.
        let _ = std::fs::create_dir_all(d);
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("txcloudrecord")
            .filename_suffix("log")
            .max_log_files(KEEP_DAYS)
            .build(d)
    });
    let (files, problem) = match files {
        Some(Ok(w)) => (Some(w), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let file_layer = files.map(|w| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(w)
            .with_filter(filter(configured, "info"))
    });
    let _ = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter(configured, "info")),
        )
        .with(file_layer)
        .try_init();
    if let Some(e) = problem {
        tracing::warn!("logging to stderr only: cannot write log files: {e}");
    }
}
