//! Sources whose OS pushes pictures (Windows Graphics Capture delivers a frame
//! only when the window changes, none while it is minimised): the newest
//! picture is kept, and at each tick of the recorder's clock it is cropped to
//! the region fixed at start. So the recording keeps its pace whatever the OS
//! delivers: an unchanged or minimised window repeats its last picture, and
//! muxing never stalls. Pure, so the rules are tested on every platform.

use txcr_core::VideoFrame;

use crate::Region;

/// The newest picture delivered: tightly packed BGRA.
#[derive(Debug, Default)]
pub struct Pushed {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Pushed {
    /// Keep `pixels` (`width`×`height` BGRA, no row padding) as the newest
    /// picture, reusing the buffer.
    pub fn store(&mut self, width: u32, height: u32, pixels: &[u8]) {
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.extend_from_slice(pixels);
    }

    /// Whether any picture has arrived yet.
    pub fn has_picture(&self) -> bool {
        !self.pixels.is_empty()
    }

    /// Copy `region` of the newest picture into `frame` (sized to the
    /// region), black where the window, resized since the start, no longer
    /// covers it. Before the first picture arrives `frame` is left as it is.
    pub fn copy_region(&self, region: Region, frame: &mut VideoFrame) {
        let expected = self.width as usize * self.height as usize * 4;
        if !self.has_picture() || self.pixels.len() < expected {
            return;
        }
        let src_stride = self.width as usize * 4;
        let avail = self.width.saturating_sub(region.x).min(region.width) as usize * 4;
        for row in 0..region.height {
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
        p.store(10, 8, &picture(10, 8));
        p.copy_region(region, &mut f);
        assert_eq!(px(&f, 0, 0), [2, 1, 7, 255]);
        assert_eq!(px(&f, 3, 2), [5, 3, 7, 255]);
        // No new picture (unchanged or minimised window): the same again.
        let mut again = VideoFrame::new(4, 3);
        p.copy_region(region, &mut again);
        assert_eq!(again.data, f.data);
    }

    #[test]
    fn a_window_shrunk_since_the_start_leaves_black_not_garbage() {
        let mut p = Pushed::default();
        p.store(4, 2, &picture(4, 2));
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
        p.store(4, 4, &[1; 8]);
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
