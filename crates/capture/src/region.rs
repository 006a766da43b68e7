use std::fmt;

use crate::CaptureError;

/// A rectangle inside a window; zero width/height means "to the window's edge".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Region {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (0 = to the right edge).
    pub width: u32,
    /// Height (0 = to the bottom edge).
    pub height: u32,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

impl Region {
    /// The concrete rectangle inside a `win_w`×`win_h` window: zero sizes extend to
    /// the edge and oversize requests are clamped. Sizes are rounded down to even
    /// numbers (4:2:0 video needs them). Fails when nothing of at least 16×16 is left.
    pub fn resolve(&self, win_w: u32, win_h: u32) -> Result<Region, CaptureError> {
        let bad = || CaptureError::BadRegion(*self, win_w, win_h);
        if self.x >= win_w || self.y >= win_h {
            return Err(bad());
        }
        let max_w = win_w - self.x;
        let max_h = win_h - self.y;
        let w = if self.width == 0 {
            max_w
        } else {
            self.width.min(max_w)
        } & !1;
        let h = if self.height == 0 {
            max_h
        } else {
            self.height.min(max_h)
        } & !1;
        if w < 16 || h < 16 {
            return Err(bad());
        }
        Ok(Region {
            x: self.x,
            y: self.y,
            width: w,
            height: h,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: u32, y: u32, width: u32, height: u32) -> Region {
        Region {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn zero_means_whole_window_and_sizes_become_even() {
        assert_eq!(
            r(0, 0, 0, 0).resolve(1281, 721).ok(),
            Some(r(0, 0, 1280, 720))
        );
        assert_eq!(
            r(10, 20, 0, 0).resolve(100, 100).ok(),
            Some(r(10, 20, 90, 80))
        );
        assert_eq!(
            r(1, 1, 33, 33).resolve(100, 100).ok(),
            Some(r(1, 1, 32, 32))
        );
    }

    #[test]
    fn oversize_is_clamped_and_outside_refused() {
        assert_eq!(
            r(50, 50, 500, 500).resolve(100, 100).ok(),
            Some(r(50, 50, 50, 50))
        );
        assert!(r(100, 0, 10, 10).resolve(100, 100).is_err());
        assert!(
            r(90, 0, 0, 0).resolve(100, 100).is_err(),
            "10 px wide is too small"
        );
    }
}
