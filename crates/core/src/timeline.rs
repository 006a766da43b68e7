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
    /// Recorded time at which the clock stops for good, if any.
    end: Option<Duration>,
}

impl Timeline {
    /// A timeline whose zero is `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            paused_total: Duration::ZERO,
            paused_since: None,
            end: None,
        }
    }

    /// Stop the clock for good once `end` of recorded time has passed: the
    /// recording covers `[0, end)`, and instants from there on are paused.
    pub fn set_end(&mut self, end: Duration) {
        self.end = Some(end);
    }

    /// Whether recorded time at `at` has reached the end set by
    /// [`set_end`](Self::set_end).
    pub fn has_ended_at(&self, at: Instant) -> bool {
        self.end.is_some_and(|end| self.running_time(at) >= end)
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
    /// later than it was asked for, at the next video frame), or has ended.
    pub fn is_paused_at(&self, at: Instant) -> bool {
        self.paused_since.is_some_and(|since| at >= since) || self.has_ended_at(at)
    }

    /// Recorded time at `at`: wall time since start minus paused time. While
    /// paused it stays at the pause point; it never passes the end.
    pub fn media_time(&self, at: Instant) -> Duration {
        let t = self.running_time(at);
        self.end.map_or(t, |end| t.min(end))
    }

    /// Recorded time at `at`, not held at the end.
    fn running_time(&self, at: Instant) -> Duration {
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
    fn an_end_stops_the_clock_for_good_after_paused_time() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(t0);
        tl.set_end(secs(5));
        tl.pause(t0 + secs(2));
        tl.resume(t0 + secs(4));
        // Two paused seconds: recorded time reaches 5 s at wall 7 s.
        assert!(!tl.has_ended_at(t0 + secs(6)) && !tl.is_paused_at(t0 + secs(6)));
        assert_eq!(tl.media_time(t0 + secs(6)), secs(4));
        assert!(tl.has_ended_at(t0 + secs(7)) && tl.is_paused_at(t0 + secs(7)));
        assert_eq!(tl.media_time(t0 + secs(9)), secs(5));
        // [0, end): the instant that reaches the end is not recorded.
        assert!(tl.has_ended_at(t0 + secs(7)));
        assert!(!tl.has_ended_at(t0 + secs(7) - Duration::from_nanos(1)));
    }

    #[test]
    fn instants_before_start_are_zero() {
        let t0 = Instant::now() + secs(10);
        let tl = Timeline::new(t0);
        assert_eq!(tl.media_time(Instant::now()), Duration::ZERO);
    }
}
