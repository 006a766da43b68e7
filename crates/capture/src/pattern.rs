use txcr_core::VideoFrame;

use crate::{CaptureError, FrameSource, Region};

/// Side of one cell of the time stamp, pixels.
pub const STAMP_CELL: u32 = 16;
/// Bits in the time stamp (milliseconds, enough for 24 days).
pub const STAMP_BITS: u32 = 31;

/// A synthetic "window": colour bars, a bar that sweeps across once per second,
/// and the frame's timestamp in milliseconds written as a row of black/white
/// cells (most significant bit first) along the top, so a decoded frame tells
/// which moment it shows. The region selects part of this virtual window.
///
/// The [`Scene::Document`] and [`Scene::Slides`] variants are grey only (so
/// their luma is the same under any RGB→YUV matrix, which lets a benchmark
/// compare decoded pictures with [`TestPattern::grab`]'s output whatever
/// encoder made them): grey bars in the upper half and lines of text-like
/// blocks in the lower half, scrolling up 60 px/s (`Document`) or jumping to
/// the next page every 5 s (`Slides`, static in between). `Clock` (a small
/// box of seconds over a still page, changing once a second) and `Whiteboard`
/// (a stroke added every 200 ms in a box over a still page) change only
/// there. In the still scenes (`Slides`, `Clock`, `Whiteboard`) the time
/// stamp shows when the picture last changed, so a window painting only what
/// changed is still between changes, as a real one is.
#[derive(Debug)]
pub struct TestPattern {
    region: Region,
    background: Vec<u8>,
    scene: Scene,
    /// Scene pages: lines of text-like blocks, `page_rows` rows, region width.
    page: Vec<u8>,
    page_rows: u32,
}

/// What a [`TestPattern`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scene {
    /// Colour bars (the default; tests check colours with it).
    #[default]
    Bars,
    /// Grey; text scrolling continuously (someone reading down a document).
    Document,
    /// Grey; a page of text that changes every five seconds (a slide deck).
    Slides,
    /// Grey; a still page and a small clock box that changes every second.
    Clock,
    /// Grey; a still page and a stroke drawn every 200 ms in a box.
    Whiteboard,
}

impl Scene {
    /// The time the picture at `ms` shows: the picture depends on nothing
    /// else. Still scenes show their last change (at least 1 ms, so a stamp
    /// of 0 still means "not painted").
    pub fn shown_ms(self, ms: u64) -> u64 {
        let every = match self {
            Self::Bars | Self::Document => return ms,
            Self::Slides => SLIDE_MS,
            Self::Clock => 1000,
            Self::Whiteboard => STROKE_MS,
        };
        (ms / every * every).max(1)
    }
}

impl std::str::FromStr for Scene {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bars" => Ok(Self::Bars),
            "document" => Ok(Self::Document),
            "slides" => Ok(Self::Slides),
            "clock" => Ok(Self::Clock),
            "whiteboard" => Ok(Self::Whiteboard),
            _ => Err(format!(
                "unknown scene {s:?} (bars, document, slides, clock, whiteboard)"
            )),
        }
    }
}

/// Pixels per second a [`Scene::Document`] scrolls.
const SCROLL_PX_PER_S: u64 = 60;
/// Milliseconds a [`Scene::Slides`] page stays.
const SLIDE_MS: u64 = 5000;
/// Milliseconds between two strokes of a [`Scene::Whiteboard`].
const STROKE_MS: u64 = 200;
/// Strokes on a whiteboard before it is wiped.
const STROKES: u64 = 100;
const LINE: u32 = 24;
const GLYPH: u32 = 10;

/// One page of "text": rows of dark glyph-like blocks (with holes, so they
/// have edges inside) on white, in words separated by spaces, ragged right.
fn text_page(width: u32, rows: u32) -> Vec<u8> {
    let mut page = vec![235u8; width as usize * rows as usize * 4];
    let hash = |a: u32, b: u32| {
        let mut x = a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77);
        x ^= x >> 15;
        x = x.wrapping_mul(0x2C1B_3C6D);
        x ^ (x >> 12)
    };
    for line in 0..rows / LINE {
        let len = width * (60 + hash(line, 7) % 40) / 100;
        for g in 0..len / GLYPH {
            let h = hash(line, g);
            if h % 6 == 0 {
                continue; // a space between words
            }
            let shade = 20 + (h >> 8) as u8 % 60;
            for y in 0..12 {
                let row = (line * LINE + 6 + y) as usize;
                for x in 1..GLYPH - 1 {
                    // A 3x4 bitmap per glyph from the hash: strokes with gaps.
                    if (h >> ((y / 4) * 3 + (x / 3).min(2))) & 1 == 1 {
                        let px = (row * width as usize + (g * GLYPH + x) as usize) * 4;
                        page[px..px + 3].fill(shade);
                    }
                }
            }
        }
    }
    page
}

const BARS: [[u8; 4]; 8] = [
    [255, 255, 255, 255], // white (BGRA)
    [0, 255, 255, 255],   // yellow
    [255, 255, 0, 255],   // cyan
    [0, 255, 0, 255],     // green
    [255, 0, 255, 255],   // magenta
    [0, 0, 255, 255],     // red
    [255, 0, 0, 255],     // blue
    [0, 0, 0, 255],       // black
];

impl TestPattern {
    /// A virtual window of `win_w`×`win_h` pixels, recorded through `region`.
    pub fn new(win_w: u32, win_h: u32, region: Region) -> Result<Self, CaptureError> {
        Self::with_scene(win_w, win_h, region, Scene::Bars)
    }

    /// As [`new`](Self::new), showing `scene`.
    pub fn with_scene(
        win_w: u32,
        win_h: u32,
        region: Region,
        scene: Scene,
    ) -> Result<Self, CaptureError> {
        let region = region.resolve(win_w, win_h)?;
        let mut row = Vec::with_capacity(region.width as usize * 4);
        for x in region.x..region.x + region.width {
            let bar = (x * 8 / win_w) as usize;
            match scene {
                Scene::Bars => row.extend_from_slice(&BARS[bar]),
                _ => row.extend_from_slice(&[(255 - bar * 32) as u8; 4]),
            }
        }
        let page_rows = if scene == Scene::Bars {
            0
        } else {
            // Two screens of text, whole lines, so scrolling wraps seamlessly.
            (region.height.max(LINE) * 2).div_ceil(LINE) * LINE
        };
        Ok(Self {
            region,
            background: row,
            scene,
            page: text_page(region.width, page_rows),
            page_rows,
        })
    }

    /// The first page row shown at `ms` in the lower half.
    fn page_offset(&self, ms: u64) -> u32 {
        let rows = u64::from(self.page_rows.max(1));
        let off = match self.scene {
            Scene::Bars => 0,
            Scene::Document => ms * SCROLL_PX_PER_S / 1000,
            Scene::Slides => (ms / SLIDE_MS) * u64::from(self.region.height / 2),
            Scene::Clock | Scene::Whiteboard => 0,
        };
        (off % rows) as u32
    }
}

impl FrameSource for TestPattern {
    fn size(&self) -> (u32, u32) {
        (self.region.width, self.region.height)
    }

    fn grab(&mut self, frame: &mut VideoFrame) -> Result<(), CaptureError> {
        let (w, h) = self.size();
        let ms = self.scene.shown_ms(frame.pts.as_millis() as u64);
        let text_from = if self.scene == Scene::Bars { h } else { h / 2 };
        for y in 0..text_from {
            frame.row_mut(y).copy_from_slice(&self.background);
        }
        let off = self.page_offset(ms);
        let stride = w as usize * 4;
        for y in text_from..h {
            let r = ((y - text_from + off) % self.page_rows.max(1)) as usize;
            frame
                .row_mut(y)
                .copy_from_slice(&self.page[r * stride..(r + 1) * stride]);
        }
        // The sweeping bar: 8 px wide, crosses the picture once per second.
        let bar_x = ((ms % 1000) * u64::from(w.saturating_sub(8)) / 1000) as usize;
        let bar_rows = match self.scene {
            Scene::Bars | Scene::Document => h / 2,
            _ => 0,
        };
        for y in h - bar_rows..h {
            let row = frame.row_mut(y);
            row[bar_x * 4..(bar_x + 8) * 4].fill(128);
        }
        match self.scene {
            Scene::Clock => clock(frame, ms / 1000),
            Scene::Whiteboard => board(frame, ms / STROKE_MS % STROKES),
            _ => {}
        }
        // The time stamp, only where it fits in the picture.
        let stamp_rows = STAMP_CELL.min(h);
        for bit in 0..STAMP_BITS.min(w / STAMP_CELL) {
            let on = (ms >> (STAMP_BITS - 1 - bit)) & 1 == 1;
            let v = if on { 255 } else { 0 };
            let x0 = (bit * STAMP_CELL) as usize * 4;
            for y in 0..stamp_rows {
                frame.row_mut(y)[x0..x0 + STAMP_CELL as usize * 4].fill(v);
            }
        }
        Ok(())
    }
}

/// Fill the part of `x0..x1` × `y0..y1` inside the picture with grey `v`.
fn fill(frame: &mut VideoFrame, (x0, y0): (u32, u32), (x1, y1): (u32, u32), v: u8) {
    let (x1, y1) = (x1.min(frame.width), y1.min(frame.height));
    for y in y0..y1 {
        if let Some(px) = frame.row_mut(y).get_mut(x0 as usize * 4..x1 as usize * 4) {
            px.fill(v);
        }
    }
}

/// A clock box (near the top right): the seconds as eight 20×40 cells.
fn clock(frame: &mut VideoFrame, secs: u64) {
    let x0 = frame.width.saturating_sub(200);
    fill(frame, (x0, 40), (x0 + 176, 96), 200);
    for bit in 0..8u32 {
        let on = (secs >> (7 - bit)) & 1 == 1;
        let x = x0 + 8 + bit * 20;
        fill(frame, (x + 2, 48), (x + 18, 88), if on { 30 } else { 225 });
    }
}

/// A whiteboard box (upper middle) with the first `strokes` strokes on it.
fn board(frame: &mut VideoFrame, strokes: u64) {
    let (bx, by, bw, bh) = (frame.width / 4, 48, 480u32, 240u32);
    fill(frame, (bx, by), (bx + bw, by + bh), 245);
    for i in 0..strokes {
        let h = (i as u32).wrapping_mul(0x9E37_79B1) ^ 0x5bd1_e995;
        let (x, y) = (bx + 8 + h % (bw - 72), by + 8 + (h >> 12) % (bh - 24));
        let len = 24 + (h >> 20) % 40;
        fill(frame, (x, y), (x + len, y + 3), 40);
        fill(frame, (x + len - 3, y), (x + len, y + 12), 40);
    }
}

/// Read the time stamp back from a decoded grey (luma) picture of `width` pixels
/// per row: the middle pixel of each cell, thresholded at mid-grey.
pub fn decode_stamp(luma: &[u8], width: usize) -> Option<u64> {
    let mid = (STAMP_CELL / 2) as usize;
    let row = luma.get(mid * width..(mid + 1) * width)?;
    let mut ms = 0u64;
    for bit in 0..STAMP_BITS as usize {
        let v = *row.get(bit * STAMP_CELL as usize + mid)?;
        ms = (ms << 1) | u64::from(v > 128);
    }
    Some(ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamp_round_trips_through_luma() {
        let mut p = TestPattern::new(640, 360, Region::default()).unwrap();
        let mut f = VideoFrame::new(640, 360);
        f.pts = Duration::from_millis(123_456);
        p.grab(&mut f).unwrap();
        // Luma of black/white BGRA is just the blue byte here.
        let luma: Vec<u8> = f.data.chunks_exact(4).map(|px| px[0]).collect();
        assert_eq!(decode_stamp(&luma, 640), Some(123_456));
    }

    #[test]
    fn grey_scenes_are_grey_and_move_as_documented() {
        let at = |scene, ms| {
            let mut p = TestPattern::with_scene(320, 240, Region::default(), scene).unwrap();
            let mut f = VideoFrame::new(320, 240);
            f.pts = Duration::from_millis(ms);
            p.grab(&mut f).unwrap();
            f.data
        };
        let doc = at(Scene::Document, 1000);
        assert!(doc
            .chunks_exact(4)
            .all(|px| px[0] == px[1] && px[1] == px[2]));
        // Document: the text 60 px further up one second later.
        let later = at(Scene::Document, 2000);
        let row = |d: &[u8], y: usize| d[y * 1280..(y + 1) * 1280].to_vec();
        let text: Vec<u8> = row(&doc, 190).iter().step_by(4).copied().collect();
        assert!(text.iter().any(|&v| v < 100), "text rows have dark glyphs");
        // (the sweeping bar moves too, so compare left of it)
        assert_eq!(row(&later, 130)[..400], row(&doc, 190)[..400]);
        // Slides: the lower half stays for five seconds, then changes.
        let (a, b, c) = (
            at(Scene::Slides, 0),
            at(Scene::Slides, 4900),
            at(Scene::Slides, 5000),
        );
        assert_eq!(a[16 * 1280..], b[16 * 1280..]);
        assert_ne!(b[120 * 1280..], c[120 * 1280..]);
    }

    #[test]
    fn still_scenes_change_only_when_they_say() {
        let at = |scene, ms| {
            let mut p = TestPattern::with_scene(640, 400, Region::default(), scene).unwrap();
            let mut f = VideoFrame::new(640, 400);
            f.pts = Duration::from_millis(ms);
            p.grab(&mut f).unwrap();
            f.data
        };
        for (scene, every) in [
            (Scene::Slides, 5000),
            (Scene::Clock, 1000),
            (Scene::Whiteboard, 200),
        ] {
            assert_eq!(at(scene, 10), at(scene, every - 1), "{scene:?}");
            assert_ne!(at(scene, every - 1), at(scene, every), "{scene:?}");
            assert_eq!(scene.shown_ms(every + 7), every);
            assert_eq!(scene.shown_ms(3), 1, "never the unpainted 0");
        }
        // The clock and the board change a small part of the picture.
        for (scene, every) in [(Scene::Clock, 1000), (Scene::Whiteboard, 200)] {
            let (a, b) = (at(scene, 3 * every), at(scene, 4 * every));
            let differ = a.chunks(4).zip(b.chunks(4)).filter(|(x, y)| x != y).count();
            assert!(differ > 0 && differ < 640 * 400 / 20, "{scene:?}: {differ}");
        }
        assert_eq!(Scene::Document.shown_ms(1234), 1234);
    }

    #[test]
    fn region_selects_part_of_the_virtual_window() {
        let p = TestPattern::new(
            1280,
            720,
            Region {
                x: 640,
                y: 0,
                width: 320,
                height: 0,
            },
        )
        .unwrap();
        assert_eq!(p.size(), (320, 720));
        // x = 640..960 of 1280 lies in bars 4 and 5 (magenta, red).
        assert_eq!(&p.background[..4], &BARS[4]);
        assert_eq!(&p.background[p.background.len() - 4..], &BARS[5]);
    }
}
