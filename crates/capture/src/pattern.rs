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
#[derive(Debug)]
pub struct TestPattern {
    region: Region,
    background: Vec<u8>,
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
        let region = region.resolve(win_w, win_h)?;
        let mut row = Vec::with_capacity(region.width as usize * 4);
        for x in region.x..region.x + region.width {
            row.extend_from_slice(&BARS[(x * 8 / win_w) as usize]);
        }
        Ok(Self {
            region,
            background: row,
        })
    }
}

impl FrameSource for TestPattern {
    fn size(&self) -> (u32, u32) {
        (self.region.width, self.region.height)
    }

    fn grab(&mut self, frame: &mut VideoFrame) -> Result<(), CaptureError> {
        let (w, h) = self.size();
        let ms = frame.pts.as_millis() as u64;
        for y in 0..h {
            frame.row_mut(y).copy_from_slice(&self.background);
        }
        // The sweeping bar: 8 px wide, crosses the picture once per second.
        let bar_x = ((ms % 1000) * u64::from(w.saturating_sub(8)) / 1000) as usize;
        for y in h / 2..h {
            let row = frame.row_mut(y);
            row[bar_x * 4..(bar_x + 8) * 4].fill(128);
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
