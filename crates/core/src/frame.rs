use std::time::Duration;

/// One captured picture in BGRA (8 bits per channel, blue first), as every
/// capture backend delivers it.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next (at least `width * 4`).
    pub stride: usize,
    /// `stride * height` bytes of BGRA pixels.
    pub data: Vec<u8>,
    /// Position on the recording timeline (paused time excluded).
    pub pts: Duration,
}

impl VideoFrame {
    /// A black frame of the given size with a tightly packed stride.
    pub fn new(width: u32, height: u32) -> Self {
        let stride = width as usize * 4;
        Self {
            width,
            height,
            stride,
            data: vec![0; stride * height as usize],
            pts: Duration::ZERO,
        }
    }

    /// The bytes of row `y` (only the `width * 4` pixel bytes, not the padding).
    pub fn row(&self, y: u32) -> &[u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 4]
    }

    /// The picture, borrowed.
    pub fn view(&self) -> FrameRef<'_> {
        FrameRef {
            width: self.width,
            height: self.height,
            stride: self.stride,
            data: &self.data,
        }
    }

    /// Mutable bytes of row `y`.
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let start = y as usize * self.stride;
        let len = self.width as usize * 4;
        &mut self.data[start..start + len]
    }
}

/// A borrowed BGRA picture: what a capture backend can lend without copying
/// it first (X11: its shared-memory image).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next (at least `width * 4`).
    pub stride: usize,
    /// At least `stride * (height - 1) + width * 4` bytes of BGRA pixels.
    pub data: &'a [u8],
}
