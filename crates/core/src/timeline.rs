use std::time::{Duration, Instant};

/// The recording clock: one monotonic clock minus the total time spent paused.
///
/// Every frame and audio block gets its timestamp from here at capture time, so
/// the output has no gap and no frozen run where the recording was paused. Pure:
/// the caller passes the instants, which keeps it testable without sleeping.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    start: Instant,
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl Timeline {
    /// A timeline whose zero is `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            paused_total: Duration::ZERO,
            paused_since: None,
        }
    }

    /// Stop the clock at `at`. Pausing twice keeps the first instant.
    pub fn pause(&mut self, at: Instant) {
        if self.paused_since.is_none() {
            self.paused_since = Some(at);
        }
    }

    /// Restart the clock at `at`, where it stopped. No effect when not paused.
    pub fn resume(&mut self, at: Instant) {
        if let Some(since) = self.paused_since.take() {
            self.paused_total += at.saturating_duration_since(since);
        }
    }

    /// Whether the clock is stopped.
    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Whether the clock stands still at `at` (a pause may take effect a little
    /// later than it was asked for, at the next video frame).
    pub fn is_paused_at(&self, at: Instant) -> bool {
        self.paused_since.is_some_and(|since| at >= since)
    }

    /// Recorded time at `at`: wall time since start minus paused time. While
    /// paused it stays at the pause point.
    pub fn media_time(&self, at: Instant) -> Duration {
        let at = match self.paused_since {
            Some(since) if at > since => since,
            _ => at,
        };
        at.saturating_duration_since(self.start)
            .saturating_sub(self.paused_total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn runs_with_the_wall_clock_when_not_paused() {
        let t0 = Instant::now();
        let tl = Timeline::new(t0);
        assert_eq!(tl.media_time(t0 + secs(7)), secs(7));
    }

    #[test]
    fn stands_still_while_paused_and_continues_after() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(t0);
        tl.pause(t0 + secs(4));
        assert!(tl.is_paused());
        assert!(!tl.is_paused_at(t0 + secs(3)) && tl.is_paused_at(t0 + secs(4)));
        assert_eq!(tl.media_time(t0 + secs(9)), secs(4));
        tl.resume(t0 + secs(10));
        assert_eq!(tl.media_time(t0 + secs(10)), secs(4));
        assert_eq!(tl.media_time(t0 + secs(12)), secs(6));
        tl.pause(t0 + secs(13));
        tl.pause(t0 + secs(14)); // second pause keeps the first instant
        tl.resume(t0 + secs(20));
        assert_eq!(tl.media_time(t0 + secs(21)), secs(8));
    }

    #[test]
    fn resume_without_pause_changes_nothing() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(t0);
        tl.resume(t0 + secs(3));
        assert_eq!(tl.media_time(t0 + secs(5)), secs(5));
    }

    #[test]
    fn instants_before_start_are_zero() {
        let t0 = Instant::now() + secs(10);
        let tl = Timeline::new(t0);
        assert_eq!(tl.media_time(Instant::now()), Duration::ZERO);
    }
}
