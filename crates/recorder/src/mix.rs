//! The mix: every sound source's samples added into one stereo track at
//! their place on the recording timeline, handed out in order behind a short
//! delay, with a soft limiter instead of wrap-around clipping. Sans-I/O: the
//! caller says where samples go and how far to hand out.
//!
//! Positions are output frames (one frame = one left and one right sample at
//! [`OUT_RATE`]) since the recording's start. A place nobody wrote is
//! silence, so a source that stops delivering leaves silence and never holds
//! up the others.

/// The rate of the mix and of the AAC track.
pub const OUT_RATE: u32 = 48_000;

/// How far past what was handed out a source may write (a source stamped far
/// ahead is wrong; its excess is dropped and counted).
const MAX_AHEAD: usize = 10 * OUT_RATE as usize;

/// Where the limiter starts bending: below it samples pass unchanged.
const KNEE: f32 = 0.9;

/// Mixed stereo not yet handed out.
#[derive(Debug, Default)]
pub struct Mix {
    /// Position of `left[0]`/`right[0]`: everything before it was handed out.
    base: u64,
    left: Vec<f32>,
    right: Vec<f32>,
}

/// A stretch of the mix, ready for the encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixed {
    /// Position of the first frame.
    pub start: u64,
    /// Left and right planes, limited to [-1, 1].
    pub left: Vec<f32>,
    /// Right plane.
    pub right: Vec<f32>,
}

impl Mixed {
    /// Timeline time of the first frame, ms.
    pub fn start_ms(&self) -> f64 {
        self.start as f64 * 1000.0 / f64::from(OUT_RATE)
    }
}

/// Soft limiter: unchanged up to [`KNEE`], then bent smoothly (same slope at
/// the knee) toward ±1, which it never exceeds.
pub fn limit(x: f32) -> f32 {
    let a = x.abs();
    if a <= KNEE {
        return x;
    }
    let room = 1.0 - KNEE;
    let bent = KNEE + room * ((a - KNEE) / room).tanh();
    bent.copysign(x)
}

impl Mix {
    /// An empty mix whose first frame is at `start`.
    pub fn new(start: u64) -> Self {
        Self {
            base: start,
            ..Self::default()
        }
    }

    /// Add `left`/`right` (same length), scaled by `gain`, at `pos`. Returns
    /// how many frames were dropped: before what was handed out (arrived too
    /// late) or too far ahead.
    pub fn add(&mut self, pos: u64, left: &[f32], right: &[f32], gain: f32) -> u64 {
        let n = left.len().min(right.len());
        let skip = self.base.saturating_sub(pos).min(n as u64) as usize;
        if skip == n {
            return n as u64;
        }
        let at = (pos + skip as u64 - self.base) as usize;
        let room = MAX_AHEAD.saturating_sub(at);
        let take = (n - skip).min(room);
        let end = at + take;
        if self.left.len() < end {
            self.left.resize(end, 0.0);
            self.right.resize(end, 0.0);
        }
        for k in 0..take {
            self.left[at + k] += left[skip + k] * gain;
            self.right[at + k] += right[skip + k] * gain;
        }
        (n - take) as u64
    }

    /// Hand out everything before `until` (silence where nothing was
    /// written), limited; `None` when there is nothing new.
    pub fn take(&mut self, until: u64) -> Option<Mixed> {
        if until <= self.base {
            return None;
        }
        let n = (until - self.base) as usize;
        if self.left.len() < n {
            self.left.resize(n, 0.0);
            self.right.resize(n, 0.0);
        }
        let rest_l = self.left.split_off(n);
        let rest_r = self.right.split_off(n);
        let mut left = std::mem::replace(&mut self.left, rest_l);
        let mut right = std::mem::replace(&mut self.right, rest_r);
        left.iter_mut()
            .chain(right.iter_mut())
            .for_each(|s| *s = limit(*s));
        let start = self.base;
        self.base = until;
        Some(Mixed { start, left, right })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sources_add_at_their_places_and_gaps_are_silence() {
        let mut m = Mix::new(0);
        assert_eq!(m.add(2, &[0.1, 0.1], &[0.2, 0.2], 1.0), 0);
        assert_eq!(m.add(3, &[0.3, 0.3], &[0.0, 0.0], 0.5), 0);
        let out = m.take(6).unwrap();
        assert_eq!(out.start, 0);
        let l: Vec<f32> = out
            .left
            .iter()
            .map(|v| (v * 100.0).round() / 100.0)
            .collect();
        assert_eq!(l, [0.0, 0.0, 0.1, 0.25, 0.15, 0.0]);
        assert_eq!(out.right[2..4], [0.2, 0.2]);
        // Nothing new until more time passes; the next stretch follows on.
        assert_eq!(m.take(6), None);
        assert_eq!(m.take(8).unwrap().start, 6);
    }

    #[test]
    fn samples_arriving_after_their_place_was_handed_out_are_dropped_and_counted() {
        let mut m = Mix::new(100);
        assert_eq!(m.add(98, &[0.5; 4], &[0.5; 4], 1.0), 2);
        let out = m.take(104).unwrap();
        assert_eq!(out.left, [0.5, 0.5, 0.0, 0.0]);
        assert_eq!(m.add(0, &[0.5; 4], &[0.5; 4], 1.0), 4);
        assert_eq!(m.add(200 + MAX_AHEAD as u64, &[0.5; 4], &[0.5; 4], 1.0), 4);
    }

    #[test]
    fn the_limiter_bends_loud_sums_instead_of_wrapping_them() {
        assert_eq!(limit(0.5), 0.5);
        assert_eq!(limit(-0.9), -0.9);
        for x in [0.95f32, 1.2, 1.8, 4.0] {
            let y = limit(x);
            assert!(y > KNEE && y <= 1.0, "{x} -> {y}");
            assert_eq!(limit(-x), -y);
        }
        assert!(limit(1.2) < limit(1.8), "monotonic");
        // No jump at the knee.
        assert!((limit(KNEE + 1e-4) - (KNEE + 1e-4)).abs() < 1e-5);
    }
}
