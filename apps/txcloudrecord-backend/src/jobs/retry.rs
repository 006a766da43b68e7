//! When a failed job is due again: exponential backoff (`backon`, 2 s
//! doubling, with jitter), capped.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The wait before try `attempt + 1` after `attempt` tries (from 1), at most `max`.
pub fn delay(attempt: u32, max: Duration) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(2))
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(attempt.saturating_sub(1) as usize)
        .unwrap_or(max)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_two_seconds_up_to_the_cap() {
        let max = Duration::from_secs(600);
        for (attempt, base) in [(0, 2), (1, 2), (2, 4), (3, 8), (9, 512)] {
            let d = delay(attempt, max);
            assert!(
                d >= Duration::from_secs(base) && d <= Duration::from_secs(2 * base),
                "{attempt}: {d:?}"
            );
        }
        assert_eq!(delay(30, max), max);
        assert!(delay(12, Duration::from_secs(300)) <= Duration::from_secs(300));
    }
}
