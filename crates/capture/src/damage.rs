//! Which rows of the recorded picture a set of changed rectangles touches:
//! the platform-neutral half of damage-driven capture. A backend learns the
//! changed rectangles from its platform (X11 DAMAGE, Windows dirty regions),
//! in its own coordinates; [`changed_rows`] turns them into row ranges of the
//! recorded region, merged, which the backend refreshes and the recorder
//! converts. Whole rows, because reading and converting a full-width band
//! is one call each and lands in place in the picture.

use std::ops::Range;

/// A rectangle in the source's coordinates (window or screen pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left.
    pub x: i32,
    /// Top.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Every row of a picture `height` rows high: what a whole read changed.
pub fn every_row(height: u32) -> Range<u32> {
    0..height
}

/// Rows closer than this are read as one band (one request instead of two).
const JOIN_GAP: u32 = 16;

/// The rows of `region` (its rows from 0) that `rects` touch, merged and in
/// order. Rectangles outside the region, or empty, count for nothing.
pub fn changed_rows(rects: &[Rect], region: Rect) -> Vec<Range<u32>> {
    let (rx0, ry0) = (i64::from(region.x), i64::from(region.y));
    let (rx1, ry1) = (
        rx0 + i64::from(region.width),
        ry0 + i64::from(region.height),
    );
    let mut rows: Vec<Range<u32>> = rects
        .iter()
        .filter_map(|r| {
            let (x0, y0) = (i64::from(r.x), i64::from(r.y));
            let (x1, y1) = (x0 + i64::from(r.width), y0 + i64::from(r.height));
            let (top, bottom) = (y0.max(ry0), y1.min(ry1));
            (x0.max(rx0) < x1.min(rx1) && top < bottom)
                .then(|| (top - ry0) as u32..(bottom - ry0) as u32)
        })
        .collect();
    rows.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u32>> = Vec::with_capacity(rows.len());
    for r in rows {
        match merged.last_mut() {
            Some(last) if r.start <= last.end + JOIN_GAP => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // expected row lists
mod tests {
    use super::*;

    fn rect(x: i32, y: i32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn rows_of_the_region_merged_in_order() {
        let region = rect(100, 50, 400, 300);
        let rows = changed_rows(
            &[
                rect(120, 200, 10, 10), // rows 150..160
                rect(0, 0, 50, 1000),   // left of the region
                rect(90, 40, 20, 20),   // rows 0..10, its right part inside
                rect(300, 155, 5, 20),  // rows 105..125
                rect(300, 190, 5, 5),   // 140..145: within JOIN_GAP of both
                rect(300, 340, 5, 50),  // cut at the bottom: 290..300
                rect(300, 100, 0, 50),  // empty
            ],
            region,
        );
        assert_eq!(rows, [0..10, 105..160, 290..300]);
        assert!(changed_rows(&[rect(500, 50, 10, 10)], region).is_empty());
        assert_eq!(changed_rows(&[region], region), [0..300]);
    }
}
