//! Damage-driven capture's bookkeeping on the capture thread, sans-I/O:
//! which rows each pooled picture lacks ([`Versions`]), and when a tick whose
//! picture did not change still sends a frame ([`Hold`]).
//!
//! The pictures travel in a small pool (capture → encode → back), so each
//! holds the source's picture as of some change. A picture is brought up to
//! date by converting only the rows changed since its version; a repeat of an
//! unchanged picture is the freshest pooled one as it is, converted not at
//! all and encoded at most once a second.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use txcr_encode::I420Frame;

/// A pooled picture and the version of the source's picture it holds
/// (0: none yet).
#[derive(Debug)]
pub(crate) struct Picture {
    pub(crate) frame: I420Frame,
    pub(crate) version: u64,
}

/// Changes remembered: a picture older than this many versions is redone whole.
const KEEP: usize = 16;

/// The source picture's versions: each change, with the rows it touched.
#[derive(Debug)]
pub(crate) struct Versions {
    now: u64,
    rows: u32,
    history: VecDeque<(u64, Vec<Range<u32>>)>,
}

impl Versions {
    /// No picture yet, of `rows` rows.
    pub(crate) fn new(rows: u32) -> Self {
        Self {
            now: 0,
            rows,
            history: VecDeque::with_capacity(KEEP),
        }
    }

    /// The source's picture changed in `rows`: its new version.
    pub(crate) fn changed(&mut self, rows: &[Range<u32>]) -> u64 {
        self.now += 1;
        if self.history.len() == KEEP {
            self.history.pop_front();
        }
        self.history.push_back((self.now, rows.to_vec()));
        self.now
    }

    /// The current version.
    pub(crate) fn current(&self) -> u64 {
        self.now
    }

    /// The rows a picture of version `had` must have converted to be
    /// current: merged, in order; all of them when it holds nothing or is
    /// older than what is remembered.
    pub(crate) fn missing(&self, had: u64) -> Vec<Range<u32>> {
        if had >= self.now {
            return Vec::new();
        }
        let remembered = self.history.front().map_or(u64::MAX, |(v, _)| *v);
        if had == 0 || had + 1 < remembered {
            return vec![txcr_capture::every_row(self.rows)];
        }
        let mut rows: Vec<Range<u32>> = self
            .history
            .iter()
            .filter(|(v, _)| *v > had)
            .flat_map(|(_, r)| r.iter().cloned())
            .collect();
        rows.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u32>> = Vec::with_capacity(rows.len());
        for r in rows {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }
}

/// At most this long between frames while the picture does not change.
pub(crate) const MAX_GAP: Duration = Duration::from_secs(1);

/// Times the picture is sent again once it has been still for a while: the
/// encoder refines a still picture over the frames that repeat it, as it does
/// for a recorder that sends every tick.
pub(crate) const REFINE: u32 = 2;
/// Stillness before each of those repeats: longer than the gap between the
/// strokes of someone writing, so a picture changing steadily gets none.
pub(crate) const REFINE_STEP: Duration = Duration::from_millis(250);

/// When an unchanged picture is sent anyway: on the first tick; [`REFINE`]
/// times, [`REFINE_STEP`] apart, once it has been still since its last
/// change; at most [`MAX_GAP`] after the last frame (players, seeking and the
/// interleaving of sound stay smooth); and on the first tick of each slice
/// (so its cut gets its keyframe on time).
#[derive(Debug)]
pub(crate) struct Hold {
    slice: Duration,
    last: Option<Duration>,
    /// The last frame showing a change, and the repeats refining it since.
    change: Option<(Duration, u32)>,
}

impl Hold {
    /// For slices of `slice` (zero: no slicing).
    pub(crate) fn new(slice: Duration) -> Self {
        Self {
            slice,
            last: None,
            change: None,
        }
    }

    /// Whether a still picture is due a refining repeat at `pts`.
    fn refining(&self, pts: Duration) -> bool {
        self.change.is_some_and(|(at, done)| {
            done < REFINE && pts.saturating_sub(at) >= REFINE_STEP * (done + 1)
        })
    }

    /// Whether the tick at `pts` must send a frame even if nothing changed.
    pub(crate) fn due(&self, pts: Duration) -> bool {
        let Some(last) = self.last else {
            return true;
        };
        let slice_of = |t: Duration| {
            if self.slice.is_zero() {
                0
            } else {
                t.as_millis() / self.slice.as_millis()
            }
        };
        self.refining(pts) || pts.saturating_sub(last) >= MAX_GAP || slice_of(pts) > slice_of(last)
    }

    /// A frame stamped `pts` was sent, showing a change or not.
    pub(crate) fn sent(&mut self, pts: Duration, changed: bool) {
        if changed {
            self.change = Some((pts, 0));
        } else if self.refining(pts) {
            if let Some((_, done)) = &mut self.change {
                *done += 1;
            }
        }
        self.last = Some(pts);
    }

    /// The last frame sent.
    pub(crate) fn last(&self) -> Option<Duration> {
        self.last
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // expected row lists
mod tests {
    use super::*;

    #[test]
    fn a_picture_lacks_the_rows_changed_since_its_version() {
        let mut v = Versions::new(100);
        assert_eq!(v.missing(0), Vec::<Range<u32>>::new(), "nothing yet");
        assert_eq!(v.changed(&[0..100]), 1);
        assert_eq!(v.missing(0), [0..100]);
        assert!(v.missing(1).is_empty());
        v.changed(&[10..20]);
        v.changed(&[15..30, 50..52]);
        assert_eq!(v.missing(1), [10..30, 50..52]);
        assert_eq!(v.missing(2), [15..30, 50..52]);
        assert!(v.missing(3).is_empty());
        for _ in 0..KEEP {
            v.changed(&[0..1]);
        }
        assert_eq!(v.missing(3), [0..1], "just remembered");
        v.changed(&[0..1]);
        assert_eq!(v.missing(3), [0..100], "older than remembered: whole");
        assert_eq!(v.missing(v.current() - 1), [0..1]);
    }

    #[test]
    fn unchanged_pictures_go_out_once_a_second_and_at_each_slice() {
        let ms = Duration::from_millis;
        let mut h = Hold::new(Duration::from_secs(5));
        assert!(h.due(ms(0)), "the first tick");
        h.sent(ms(0), false);
        assert!(!h.due(ms(67)) && !h.due(ms(999)));
        assert!(h.due(ms(1000)));
        h.sent(ms(4600), false);
        assert!(!h.due(ms(4933)));
        assert!(h.due(ms(5000)), "a new slice starts");
        h.sent(ms(5000), false);
        assert!(!h.due(ms(5067)));
        // A change, then stillness: sent again REFINE times, a step apart.
        h.sent(ms(5133), true);
        assert!(!h.due(ms(5200)) && !h.due(ms(5333)));
        assert!(h.due(ms(5400)));
        h.sent(ms(5400), false);
        assert!(!h.due(ms(5467)) && !h.due(ms(5600)));
        assert!(h.due(ms(5667)));
        h.sent(ms(5667), false);
        assert!(!h.due(ms(5933)) && !h.due(ms(6067)), "refined enough");
        assert!(h.due(ms(6667)), "a second since the last frame");
        // Changes closer than a step (writing) get no repeats between them.
        h.sent(ms(7000), true);
        assert!(!h.due(ms(7200)));
        h.sent(ms(7200), true);
        assert!(!h.due(ms(7400)));
        let mut none = Hold::new(Duration::ZERO);
        none.sent(ms(4600), false);
        assert!(!none.due(ms(5000)) && none.due(ms(5600)));
        assert_eq!(none.last(), Some(ms(4600)));
    }
}
