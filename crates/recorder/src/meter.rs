//! A source's sound level and whether it has gone silent. Sans-I/O: the
//! caller passes the samples and the recording clock.
//!
//! A recording that turns out silent (a muted or unplugged microphone, a
//! device another program took) is the commonest complaint about recorders,
//! and it is only found after class. The meter tells during class: peak and
//! RMS over the last second, and [`Meter::silent`] once a source has
//! delivered digital silence for [`SILENT_AFTER_MS`] of recording.

/// Below this a second is digital silence (a quiet room is near -60 dBFS).
pub const SILENCE_DBFS: f32 = -90.0;
/// Silence this long (recording time) makes a source silent.
pub const SILENT_AFTER_MS: f64 = 10_000.0;
/// The level is measured over windows this long.
const WINDOW_MS: f64 = 1_000.0;
/// What an empty window reads, dBFS.
pub const FLOOR_DBFS: f32 = -120.0;

/// Peak and RMS, dBFS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Loudest sample.
    pub peak_db: f32,
    /// Root mean square.
    pub rms_db: f32,
}

impl Default for Level {
    fn default() -> Self {
        Self {
            peak_db: FLOOR_DBFS,
            rms_db: FLOOR_DBFS,
        }
    }
}

fn db(x: f64) -> f32 {
    if x <= 0.0 {
        FLOOR_DBFS
    } else {
        ((20.0 * x.log10()) as f32).max(FLOOR_DBFS)
    }
}

/// One source's meter.
#[derive(Debug, Default)]
pub struct Meter {
    window_start: Option<f64>,
    peak: f32,
    squares: f64,
    count: u64,
    last: Level,
    /// Recording time the current run of silence began, if silent now.
    quiet_since: Option<f64>,
    /// Recording time of the last block.
    seen_at: Option<f64>,
}

impl Meter {
    /// Samples (any layout) that begin at recording time `at_ms`.
    pub fn push(&mut self, samples: &[f32], at_ms: f64) {
        let start = *self.window_start.get_or_insert(at_ms);
        if at_ms - start >= WINDOW_MS {
            self.close_window(start);
            self.window_start = Some(at_ms);
        }
        for &s in samples {
            self.peak = self.peak.max(s.abs());
            self.squares += f64::from(s) * f64::from(s);
        }
        self.count += samples.len() as u64;
        self.seen_at = Some(at_ms);
    }

    fn close_window(&mut self, start: f64) {
        let rms = if self.count == 0 {
            0.0
        } else {
            (self.squares / self.count as f64).sqrt()
        };
        self.last = Level {
            peak_db: db(f64::from(self.peak)),
            rms_db: db(rms),
        };
        if self.last.peak_db < SILENCE_DBFS {
            self.quiet_since.get_or_insert(start);
        } else {
            self.quiet_since = None;
        }
        (self.peak, self.squares, self.count) = (0.0, 0.0, 0);
    }

    /// The level of the last whole second.
    pub fn level(&self) -> Level {
        self.last
    }

    /// Whether the source has delivered only digital silence for
    /// [`SILENT_AFTER_MS`] up to its last block.
    pub fn silent(&self) -> bool {
        match (self.quiet_since, self.seen_at) {
            (Some(since), Some(seen)) => seen - since >= SILENT_AFTER_MS,
            _ => false,
        }
    }

    /// A pause or a gap: the silence run and the window start again (paused
    /// time is not silence).
    pub fn restart(&mut self) {
        self.window_start = None;
        self.quiet_since = None;
        (self.peak, self.squares, self.count) = (0.0, 0.0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `secs` of 20 ms blocks of `amp`-high square wave from `from_ms`.
    fn feed(m: &mut Meter, amp: f32, from_ms: f64, secs: f64) -> f64 {
        let mut t = from_ms;
        let block: Vec<f32> = (0..1920)
            .map(|i| if i % 2 == 0 { amp } else { -amp })
            .collect();
        while t < from_ms + secs * 1000.0 {
            m.push(&block, t);
            t += 20.0;
        }
        t
    }

    #[test]
    fn reads_peak_and_rms_of_the_last_second() {
        let mut m = Meter::default();
        feed(&mut m, 0.5, 0.0, 2.0);
        let l = m.level();
        assert!((l.peak_db - -6.02).abs() < 0.05, "{l:?}");
        assert!((l.rms_db - -6.02).abs() < 0.05, "{l:?}");
    }

    #[test]
    fn digital_silence_for_ten_seconds_is_silent_a_quiet_room_is_not() {
        let mut m = Meter::default();
        let t = feed(&mut m, 0.0, 0.0, 9.0);
        assert!(!m.silent(), "9 s is not yet 10");
        let t = feed(&mut m, 0.0, t, 2.5);
        assert!(m.silent());
        // Sound again: no longer silent.
        feed(&mut m, 0.3, t, 1.5);
        assert!(!m.silent());

        let mut room = Meter::default();
        feed(&mut room, 0.001, 0.0, 15.0); // -60 dBFS
        assert!(!room.silent());
        assert!((room.level().peak_db - -60.0).abs() < 0.1);
    }

    #[test]
    fn a_restart_forgets_the_silence_so_far() {
        let mut m = Meter::default();
        let t = feed(&mut m, 0.0, 0.0, 8.0);
        m.restart();
        feed(&mut m, 0.0, t, 8.0);
        assert!(!m.silent());
    }
}
