//! When the capture thread takes its frames: a steady schedule of one tick
//! every `1/VideoFps`, and where a pause cuts into it. Pure: the caller passes
//! the instants, so every case is tested without sleeping.
//!
//! The rule that keeps video continuous across a pause: a pause takes effect
//! at [`Pacer::next`], the tick not yet taken (even when that tick is due
//! already and the capture thread is late to it), and the first frame after
//! resume is stamped with the recorded time of that same tick. So the first
//! frame after `ResumeRecord` is exactly one interval after the last frame
//! before `PauseRecord`: never the same timestamp, never a short step.

use std::time::{Duration, Instant};

/// The capture schedule.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    next: Instant,
    interval: Duration,
}

impl Pacer {
    /// Ticks every `interval`, the first at `start`.
    pub(crate) fn new(start: Instant, interval: Duration) -> Self {
        Self {
            next: start,
            interval,
        }
    }

    /// The tick not yet taken: the next frame is due then, and a pause asked
    /// for now takes effect there.
    pub(crate) fn next(&self) -> Instant {
        self.next
    }

    /// The frame of tick [`next`](Self::next) is being taken at `now`: move
    /// to the following tick. When the thread is a whole tick or more behind
    /// (the machine stalled), the ticks it missed are skipped rather than
    /// taken in a burst (the latest one is due at once); returns how many.
    /// Ticks stay on the grid `start + k·interval`, so every timestamp is a
    /// whole frame from every other (a player rounding them to frames never
    /// sees two land on one).
    pub(crate) fn take(&mut self, now: Instant) -> u64 {
        self.next += self.interval;
        if now < self.next + self.interval {
            return 0;
        }
        let missed = ((now - self.next).as_nanos() / self.interval.as_nanos().max(1)) as u32;
        self.next += self.interval * missed;
        u64::from(missed)
    }

    /// The recording resumed at `at`: the next frame is the tick that was not
    /// taken, or `at` when that tick has passed (the timeline skipped the
    /// paused time in between, so both are stamped where the pause began).
    pub(crate) fn resume(&mut self, at: Instant) {
        self.next = self.next.max(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use txcr_core::Timeline;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The capture thread and the API, as the pipeline drives them: a pause
    /// at `next()`, a resume that tells both the timeline and the pacer.
    struct Sim {
        tl: Timeline,
        pacer: Pacer,
        pts: Vec<Duration>,
    }

    impl Sim {
        fn new(t0: Instant, interval: Duration) -> Self {
            Self {
                tl: Timeline::new(t0),
                pacer: Pacer::new(t0, interval),
                pts: vec![],
            }
        }
        /// Take every due frame up to `now` (one at a time, as the thread does).
        fn run_until(&mut self, now: Instant) {
            while !self.tl.is_paused() && self.pacer.next() <= now {
                let tick = self.pacer.next();
                self.pts.push(self.tl.media_time(tick));
                self.pacer.take(tick);
            }
        }
        fn pause(&mut self) {
            self.tl.pause(self.pacer.next());
        }
        fn resume(&mut self, at: Instant) {
            self.tl.resume(at);
            self.pacer.resume(at);
        }
    }

    #[test]
    fn ticks_are_steady_and_a_stall_skips_ticks_instead_of_bursting() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, ms(100));
        assert_eq!(p.take(t0 + ms(3)), 0);
        assert_eq!(p.next(), t0 + ms(100), "late by 3 ms: no drift");
        assert_eq!(p.take(t0 + ms(250)), 0, "within a tick of its due time");
        assert_eq!(p.next(), t0 + ms(200));
        // Taken 550 ms after it was due: the ticks at 300..=600 are skipped,
        // the one at 700 is due at once.
        assert_eq!(p.take(t0 + ms(750)), 4);
        assert_eq!(p.next(), t0 + ms(700));
        assert_eq!(p.take(t0 + ms(760)), 0);
        assert_eq!(p.next(), t0 + ms(800));
    }

    #[test]
    fn the_first_frame_after_resume_is_one_interval_after_the_last() {
        let iv = ms(66);
        // (frames taken until, resumed at). The pause needs no instant: it
        // takes effect at the tick not yet taken, whether that is still to
        // come or already overdue (the thread late to it). Cases: a long
        // break, resumed within one interval (before the pause took effect),
        // resumed a moment later, and a tick falling exactly on the instant.
        for (ran, resume_at) in [
            (1000, 3000),
            (990, 3000),
            (1000, 1001),
            (1000, 1020),
            (1057, 1090),
            (2000, 60_000),
        ] {
            let t0 = Instant::now();
            let mut sim = Sim::new(t0, iv);
            sim.run_until(t0 + ms(ran));
            sim.pause();
            sim.run_until(t0 + ms(resume_at));
            sim.resume(t0 + ms(resume_at));
            let before = sim.pts.len();
            sim.run_until(t0 + ms(resume_at + 500));
            assert!(sim.pts.len() > before, "frames after resume");
            for w in sim.pts.windows(2) {
                assert_eq!(w[1] - w[0], iv, "ran until {ran}, resumed at {resume_at}");
            }
        }
    }

    #[test]
    fn a_resume_right_after_a_pause_takes_the_tick_that_was_due() {
        let t0 = Instant::now();
        let mut sim = Sim::new(t0, ms(100));
        sim.run_until(t0 + ms(450)); // frames 0..=400
        sim.pause(); // takes effect at 500
        sim.resume(t0 + ms(460));
        assert_eq!(sim.pacer.next(), t0 + ms(500), "the schedule is kept");
        sim.run_until(t0 + ms(600));
        let last: Vec<u128> = sim
            .pts
            .iter()
            .rev()
            .take(3)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(last, [600, 500, 400]);
    }
}
