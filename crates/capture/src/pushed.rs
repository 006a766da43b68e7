//! Sources whose OS pushes pictures (Windows Graphics Capture delivers a frame
//! only when the window changes, none while it is minimised): the newest
//! picture is kept, and at each tick of the recorder's clock it is cropped to
//! the region fixed at start. So the recording keeps its pace whatever the OS
//! delivers: an unchanged or minimised window repeats its last picture, and
//! muxing never stalls. What changed since the recorder last took a picture
//! is kept too (the OS's dirty rectangles where it reports them, else all of
//! it), so only those rows are copied and converted, and a tick with nothing
//! new costs nothing. Pure, so the rules are tested on every platform.

use std::ops::Range;

use txcr_core::VideoFrame;

use crate::damage::{changed_rows, every_row, Rect};
use crate::Region;

/// What changed since the picture was last taken.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Dirty {
    /// Nothing new.
    #[default]
    Nothing,
    /// These rectangles (picture coordinates).
    Rects(Vec<Rect>),
    /// Everything (no dirty regions reported, or a new size).
    All,
}

/// The newest picture delivered: tightly packed BGRA.
#[derive(Debug, Default)]
pub struct Pushed {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    dirty: Dirty,
}

impl Pushed {
    /// Keep `pixels` (`width`×`height` BGRA, no row padding) as the newest
    /// picture, reusing the buffer; `dirty`: the rectangles that changed
    /// since the picture before, where the OS reports them (`None`: all).
    pub fn store(&mut self, width: u32, height: u32, pixels: &[u8], dirty: Option<&[Rect]>) {
        let resized = (width, height) != (self.width, self.height);
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.extend_from_slice(pixels);
        self.dirty = match (std::mem::take(&mut self.dirty), dirty) {
            (_, None) | (Dirty::All, _) => Dirty::All,
            _ if resized => Dirty::All,
            (Dirty::Nothing, Some(r)) => Dirty::Rects(r.to_vec()),
            (Dirty::Rects(mut had), Some(r)) => {
                had.extend_from_slice(r);
                Dirty::Rects(had)
            }
        };
    }

    /// The rows of `region` that changed since the last call (merged, in
    /// order), `None` when nothing did.
    pub fn take_changes(&mut self, region: Region) -> Option<Vec<Range<u32>>> {
        let area = Rect {
            x: region.x as i32,
            y: region.y as i32,
            width: region.width,
            height: region.height,
        };
        let rows = match std::mem::take(&mut self.dirty) {
            Dirty::Nothing => return None,
            Dirty::All => vec![every_row(region.height)],
            Dirty::Rects(r) => changed_rows(&r, area),
        };
        (!rows.is_empty()).then_some(rows)
    }

    /// Whether any picture has arrived yet.
    pub fn has_picture(&self) -> bool {
        !self.pixels.is_empty()
    }

    /// Copy `region` of the newest picture into `frame` (sized to the
    /// region), black where the window, resized since the start, no longer
    /// covers it. Before the first picture arrives `frame` is left as it is.
    pub fn copy_region(&self, region: Region, frame: &mut VideoFrame) {
        self.copy_rows(region, frame, &[every_row(region.height)]);
    }

    /// [`Pushed::copy_region`], only `rows` of the region.
    pub fn copy_rows(&self, region: Region, frame: &mut VideoFrame, rows: &[Range<u32>]) {
        let expected = self.width as usize * self.height as usize * 4;
        if !self.has_picture() || self.pixels.len() < expected {
            return;
        }
        let src_stride = self.width as usize * 4;
        let avail = self.width.saturating_sub(region.x).min(region.width) as usize * 4;
        for row in rows.iter().flat_map(|r| r.start..r.end.min(region.height)) {
            let dst = &mut frame.data[row as usize * frame.stride..][..region.width as usize * 4];
            let y = region.y + row;
            if y >= self.height || avail == 0 {
                dst.fill(0);
                continue;
            }
            let start = y as usize * src_stride + region.x as usize * 4;
            dst[..avail].copy_from_slice(&self.pixels[start..start + avail]);
            dst[avail..].fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` picture whose pixel (x, y) is BGRA `[x, y, 7, 255]`.
    fn picture(w: u32, h: u32) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 7, 255]))
            .collect()
    }

    fn px(f: &VideoFrame, x: usize, y: usize) -> [u8; 4] {
        let i = y * f.stride + x * 4;
        f.data[i..i + 4].try_into().unwrap_or_default()
    }

    #[test]
    fn the_region_is_cropped_and_repeated_until_a_new_picture_comes() {
        let mut p = Pushed::default();
        let region = Region {
            x: 2,
            y: 1,
            width: 4,
            height: 3,
        };
        let mut f = VideoFrame::new(4, 3);
        f.data.fill(9);
        p.copy_region(region, &mut f);
        assert_eq!(
            px(&f, 0, 0),
            [9; 4],
            "nothing yet: the frame is left as it is"
        );
        p.store(10, 8, &picture(10, 8), None);
        p.copy_region(region, &mut f);
        assert_eq!(px(&f, 0, 0), [2, 1, 7, 255]);
        assert_eq!(px(&f, 3, 2), [5, 3, 7, 255]);
        // No new picture (unchanged or minimised window): the same again.
        let mut again = VideoFrame::new(4, 3);
        p.copy_region(region, &mut again);
        assert_eq!(again.data, f.data);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // expected row lists
    fn only_what_changed_is_taken_and_nothing_twice() {
        let mut p = Pushed::default();
        let region = Region {
            x: 0,
            y: 10,
            width: 10,
            height: 20,
        };
        let rect = |y, height| Rect {
            x: 2,
            y,
            width: 3,
            height,
        };
        assert_eq!(p.take_changes(region), None, "no picture yet");
        p.store(10, 40, &picture(10, 40), Some(&[rect(12, 2)]));
        assert_eq!(p.take_changes(region), Some(vec![0..20]), "the first: all");
        assert_eq!(p.take_changes(region), None, "nothing new");
        p.store(10, 40, &picture(10, 40), Some(&[rect(12, 2)]));
        p.store(10, 40, &picture(10, 40), Some(&[rect(50, 2)]));
        assert_eq!(
            p.take_changes(region),
            Some(vec![2..4]),
            "both, outside cut"
        );
        p.store(10, 40, &picture(10, 40), Some(&[rect(0, 5)]));
        assert_eq!(p.take_changes(region), None, "above the region");
        p.store(10, 40, &picture(10, 40), None);
        assert_eq!(p.take_changes(region), Some(vec![0..20]), "unreported: all");
        p.store(12, 40, &picture(12, 40), Some(&[rect(12, 1)]));
        assert_eq!(p.take_changes(region), Some(vec![0..20]), "resized: all");
        // Only the rows asked for are copied.
        let mut f = VideoFrame::new(10, 20);
        p.copy_rows(region, &mut f, &[3..5]);
        assert_eq!(px(&f, 1, 3), [1, 13, 7, 255]);
        assert_eq!(px(&f, 1, 5), [0; 4]);
    }

    #[test]
    fn a_window_shrunk_since_the_start_leaves_black_not_garbage() {
        let mut p = Pushed::default();
        p.store(4, 2, &picture(4, 2), None);
        let mut f = VideoFrame::new(4, 3);
        f.data.fill(9);
        p.copy_region(
            Region {
                x: 2,
                y: 0,
                width: 4,
                height: 3,
            },
            &mut f,
        );
        assert_eq!(px(&f, 0, 0), [2, 0, 7, 255]);
        assert_eq!(px(&f, 1, 1), [3, 1, 7, 255]);
        assert_eq!(px(&f, 2, 0), [0; 4], "beyond the window's new width");
        assert_eq!(px(&f, 0, 2), [0; 4], "below its new height");
    }

    #[test]
    fn a_short_buffer_is_ignored() {
        let mut p = Pushed::default();
        p.store(4, 4, &[1; 8], None);
        let mut f = VideoFrame::new(2, 2);
        p.copy_region(
            Region {
                x: 0,
                y: 0,
                width: 2,
                height: 2,
            },
            &mut f,
        );
        assert!(f.data.iter().all(|&b| b == 0));
    }
}
