//! The sweeps' clock: how often a sweep looks, and the loop that runs one
//! pass after another until the backend stops.

use std::time::Duration;

use tokio::sync::watch;

/// How often a sweep of what is kept for `keep` looks: hourly, or four
/// times per `keep` if that is shorter (so a short time in a test is kept
/// to the second).
pub(super) fn sweep_interval(keep: Duration) -> Duration {
    (keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

/// Run `pass` now and then every `interval`, until `stop`.
pub(super) async fn periodically<F: std::future::Future<Output = ()>>(
    interval: Duration,
    mut stop: watch::Receiver<bool>,
    mut pass: impl FnMut() -> F,
) {
    loop {
        pass().await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_runs_hourly_or_four_times_per_short_retention() {
        let day = Duration::from_secs(86_400);
        assert_eq!(sweep_interval(30 * day), Duration::from_secs(3600));
        assert_eq!(
            sweep_interval(Duration::from_secs(20)),
            Duration::from_secs(5)
        );
        assert_eq!(
            sweep_interval(Duration::from_millis(100)),
            Duration::from_secs(1)
        );
    }
}
