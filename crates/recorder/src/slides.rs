//! Slide changes told from the capture's damage, sans-I/O: the capture
//! thread passes each tick's recorded time and the rows that changed, and
//! [`Slides`] says when a new slide came up.
//!
//! The rule (documented for users in the local API's `AutoChapters`):
//! - the picture stood **still** (no row changed) for at least [`STILL`]
//!   of recorded time;
//! - then **most of it** changed at once: the rows changed within [`BURST`]
//!   of the first change cover at least half of the picture's rows;
//! - and the last slide change was at least [`GAP`] earlier.
//!
//! A scrolling document or a playing video never stands still, so it adds
//! no chapter; a stroke on a whiteboard changes few rows; at most one
//! chapter every [`GAP`], whatever the content. The picture at the start
//! is slide 1 (no chapter): the first change counted is "Slide 2". The
//! rows are what damage-driven capture tracks already, so the rule costs a
//! bitmap of rows and nothing per pixel.

use std::ops::Range;
use std::time::Duration;

/// How long the picture must stand still before a change counts.
pub(crate) const STILL: Duration = Duration::from_secs(3);
/// How long after the first change its rows are gathered (a slide drawn in
/// a few paints is still one change).
pub(crate) const BURST: Duration = Duration::from_millis(500);
/// Least time between two slide changes.
pub(crate) const GAP: Duration = Duration::from_secs(10);

/// The detector's state.
#[derive(Debug)]
pub(crate) struct Slides {
    rows: u32,
    /// When the picture last changed (`None`: not yet seen at all).
    last_change: Option<Duration>,
    /// A change after stillness being gathered: when it began and the rows
    /// it touched so far.
    burst: Option<(Duration, Vec<bool>)>,
    last_slide: Option<Duration>,
    /// Slides so far (the one at the start is 1).
    count: u32,
}

impl Slides {
    /// For a picture of `rows` rows.
    pub(crate) fn new(rows: u32) -> Self {
        Self {
            rows: rows.max(1),
            last_change: None,
            burst: None,
            last_slide: None,
            count: 1,
        }
    }

    /// A tick at recorded time `pts` whose picture changed in `changed`
    /// (empty: unchanged). A slide change's chapter title, when this tick
    /// completes one; its time is the burst's first change.
    pub(crate) fn tick(
        &mut self,
        pts: Duration,
        changed: &[Range<u32>],
    ) -> Option<(Duration, String)> {
        let found = self.close_burst(pts);
        if changed.is_empty() {
            return found;
        }
        let Some(last) = self.last_change.replace(pts) else {
            // The first picture: what was there at the start.
            return found;
        };
        let after_stillness = pts.saturating_sub(last) >= STILL;
        let spaced = self.last_slide.is_none_or(|s| pts.saturating_sub(s) >= GAP);
        if self.burst.is_none() && after_stillness && spaced {
            self.burst = Some((pts, vec![false; self.rows as usize]));
        }
        if let Some((_, seen)) = &mut self.burst {
            for r in changed {
                let end = (r.end.min(self.rows)) as usize;
                let start = (r.start as usize).min(end);
                seen[start..end].fill(true);
            }
        }
        found.or_else(|| self.judge(false))
    }

    /// The burst's time is up at `pts`: judge it.
    fn close_burst(&mut self, pts: Duration) -> Option<(Duration, String)> {
        let began = self.burst.as_ref()?.0;
        (pts.saturating_sub(began) >= BURST)
            .then(|| self.judge(true))
            .flatten()
    }

    /// A slide change as soon as half the rows changed; a burst whose time
    /// is up (`closing`) without it is dropped.
    fn judge(&mut self, closing: bool) -> Option<(Duration, String)> {
        let (began, seen) = self.burst.as_ref()?;
        let changed = seen.iter().filter(|&&b| b).count() as u64;
        if changed * 2 >= u64::from(self.rows) {
            let at = *began;
            self.burst = None;
            self.last_slide = Some(at);
            self.count += 1;
            return Some((at, format!("Slide {}", self.count)));
        }
        if closing {
            self.burst = None;
        }
        None
    }
}

#[cfg(test)]
// The capture reports a list of changed row ranges; here it is often one.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const ROWS: u32 = 1080;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Ticks every 100 ms from `from` to `to` (ms), each changing `rows`.
    fn run(s: &mut Slides, from: u64, to: u64, rows: &[Range<u32>]) -> Vec<(Duration, String)> {
        (from / 100..to / 100)
            .filter_map(|t| s.tick(ms(t * 100), rows))
            .collect()
    }

    #[test]
    fn a_new_slide_after_stillness_is_a_chapter_and_the_start_is_not() {
        let mut s = Slides::new(ROWS);
        assert_eq!(run(&mut s, 0, 100, &[0..ROWS]), [], "the first picture");
        assert_eq!(run(&mut s, 100, 5000, &[]), []);
        assert_eq!(
            run(&mut s, 5000, 5100, &[0..ROWS]),
            [(ms(5000), "Slide 2".to_owned())]
        );
        assert_eq!(run(&mut s, 5100, 16000, &[]), []);
        // Drawn in two paints, 200 ms apart: one change, at its first paint.
        assert_eq!(run(&mut s, 16000, 16100, &[0..400]), []);
        assert_eq!(run(&mut s, 16100, 16200, &[]), []);
        assert_eq!(
            run(&mut s, 16200, 16300, &[400..700]),
            [(ms(16000), "Slide 3".to_owned())]
        );
    }

    #[test]
    fn scrolling_video_and_strokes_add_none() {
        let mut s = Slides::new(ROWS);
        assert_eq!(
            run(&mut s, 0, 60_000, &[0..ROWS]),
            [],
            "a video or a scroll"
        );
        // A stroke a second in a small area, with pauses of 4 s between.
        for start in (60_000..120_000).step_by(5000) {
            assert_eq!(run(&mut s, start, start + 100, &[500..540]), []);
            assert_eq!(run(&mut s, start + 100, start + 5000, &[]), []);
        }
    }

    #[test]
    fn changes_closer_than_the_gap_are_one_chapter() {
        let mut s = Slides::new(ROWS);
        run(&mut s, 0, 100, &[0..ROWS]);
        let mut found = Vec::new();
        // A slide every 4 s (still for 3.9 s each time) for a minute.
        for start in (4000..64_000).step_by(4000) {
            found.extend(run(&mut s, start, start + 100, &[0..ROWS]));
            found.extend(run(&mut s, start + 100, start + 4000, &[]));
        }
        let times: Vec<u64> = found.iter().map(|(t, _)| t.as_millis() as u64).collect();
        assert_eq!(
            times,
            [4000, 16000, 28000, 40000, 52000],
            "one per 10 s or more"
        );
    }

    #[test]
    fn a_burst_that_never_covers_half_is_dropped() {
        let mut s = Slides::new(ROWS);
        run(&mut s, 0, 100, &[0..ROWS]);
        run(&mut s, 100, 4000, &[]);
        assert_eq!(run(&mut s, 4000, 4100, &[0..300]), []);
        // 600 ms later: another burst's rows are not added to the first.
        assert_eq!(run(&mut s, 4100, 4600, &[]), []);
        assert_eq!(run(&mut s, 4600, 4700, &[300..700]), []);
        // Out-of-range rows are clipped, not a panic.
        assert_eq!(run(&mut s, 4700, 9000, &[]), []);
        assert_eq!(
            run(&mut s, 9000, 9100, &[540..5000]),
            [(ms(9000), "Slide 2".to_owned())]
        );
    }
}
