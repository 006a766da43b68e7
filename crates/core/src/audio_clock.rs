/// Stamps captured audio blocks on the recording timeline.
///
/// Time follows the sample count (smooth, free of scheduling jitter) and is
/// pulled gently toward the recording clock each block, so a sound card whose
/// crystal runs a little fast or slow cannot drift away from the video over a
/// long class. A large disagreement (the device stalled and samples were lost)
/// re-anchors at once. Stamps never go backwards. Pure: the caller passes the
/// clock readings.
#[derive(Debug, Clone)]
pub struct AudioClock {
    rate: f64,
    /// Timeline ms of sample 0 of the current run; `None` until the first block.
    base_ms: Option<f64>,
    samples: u64,
    next_min_ms: f64,
}

/// Fraction of the measured error corrected per block: slow enough to average
/// out arrival jitter, fast enough to follow crystal drift (tens of ppm).
const PULL: f64 = 0.02;
/// Beyond this the device lost samples (or the clock jumped): re-anchor.
const REANCHOR_MS: f64 = 500.0;

impl AudioClock {
    /// A clock for `sample_rate` Hz.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            rate: f64::from(sample_rate.max(1)),
            base_ms: None,
            samples: 0,
            next_min_ms: 0.0,
        }
    }

    /// A block of `frames` samples (per channel) arrived when the recording
    /// clock read `clock_ms` (the block's last sample was captured about then).
    /// Returns the timeline time of the block's first sample, in ms.
    pub fn stamp(&mut self, frames: usize, clock_ms: f64) -> f64 {
        let dur = frames as f64 * 1000.0 / self.rate;
        let elapsed = self.samples as f64 * 1000.0 / self.rate;
        let base = *self.base_ms.get_or_insert(clock_ms - dur);
        let mut start = base + elapsed;
        let error = clock_ms - (start + dur);
        if error.abs() > REANCHOR_MS {
            start = clock_ms - dur;
            self.base_ms = Some(start - elapsed);
        } else {
            self.base_ms = Some(base + error * PULL);
        }
        let start = start.max(self.next_min_ms);
        self.samples += frames as u64;
        // Strictly increasing, but free to close up by a fraction of a block so
        // the pull can correct a fast crystal.
        self.next_min_ms = start + dur / 2.0;
        start
    }

    /// Forget the anchor (after a pause): the next block anchors afresh, at
    /// the resumed timeline, where video continues too.
    pub fn rebase(&mut self) {
        self.base_ms = None;
        self.samples = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64: deterministic pseudo-random jitter.
    fn rng(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 10_000) as f64 / 10_000.0
    }

    /// A sound card whose crystal is `ppm` off, delivering 10 ms blocks that
    /// reach us 0–`jitter_ms` late, for `minutes`. Returns the worst error of
    /// a stamp against the true capture time of the block's first sample.
    fn worst_error(ppm: f64, jitter_ms: f64, minutes: u64) -> f64 {
        let rate = 48_000;
        let mut clock = AudioClock::new(rate);
        let true_block_ms = 10.0 * (1.0 - ppm * 1e-6); // 480 samples take this long on our clock
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let mut worst: f64 = 0.0;
        let mut last = f64::MIN;
        let blocks = minutes * 60 * 100;
        for k in 0..blocks {
            let true_start = 50.0 + k as f64 * true_block_ms;
            let arrival = true_start + true_block_ms + rng(&mut seed) * jitter_ms;
            let stamp = clock.stamp(480, arrival);
            assert!(stamp >= last, "stamps never go backwards");
            last = stamp;
            if k > 200 {
                worst = worst.max((stamp - true_start).abs());
            }
        }
        worst
    }

    #[test]
    fn drift_stays_under_40ms_over_an_hour_with_jitter() {
        for ppm in [-100.0, -20.0, 0.0, 50.0, 100.0] {
            let worst = worst_error(ppm, 8.0, 60);
            eprintln!("{ppm:+} ppm, 0-8 ms jitter, 60 min: worst error {worst:.2} ms");
            // The pull settles on the mean arrival delay (half the jitter);
            // what matters is that it does not grow with time.
            assert!(worst < 40.0, "{ppm} ppm: worst error {worst:.1} ms");
        }
    }

    #[test]
    fn lost_samples_reanchor_and_rebase_restarts_at_the_clock() {
        let mut c = AudioClock::new(48_000);
        assert_eq!(c.stamp(480, 1010.0), 1000.0);
        assert!((c.stamp(480, 1020.0) - 1010.0).abs() < 0.01);
        // The device stalled for 2 s: re-anchor at the clock.
        assert!((c.stamp(480, 3030.0) - 3020.0).abs() < 0.01);
        c.rebase();
        assert!((c.stamp(480, 5010.0) - 5000.0).abs() < 0.01);
    }
}
