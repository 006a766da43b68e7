use std::time::Duration;

use txcr_core::{FrameRef, VideoFrame};
use yuv::{
    bgra_to_yuv420, BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::EncodeError;

/// An I420 picture (full-size Y plane, quarter-size U and V planes), tightly packed.
#[derive(Debug, Clone)]
pub struct I420Frame {
    /// Width (even).
    pub width: u32,
    /// Height (even).
    pub height: u32,
    /// Luma, `width * height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `width/2 * height/2` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma, `width/2 * height/2` bytes.
    pub v: Vec<u8>,
    /// Presentation time (from the [`VideoFrame`] it was converted from).
    pub pts: Duration,
}

impl I420Frame {
    /// A grey `width`×`height` picture (sizes rounded down to even).
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width & !1, height & !1);
        let luma = width as usize * height as usize;
        Self {
            width,
            height,
            y: vec![0; luma],
            u: vec![128; luma / 4],
            v: vec![128; luma / 4],
            pts: Duration::ZERO,
        }
    }
}

/// BGRA → I420 (BT.709, limited range) into buffers reused frame after frame.
#[derive(Debug)]
pub struct I420Converter {
    out: I420Frame,
}

impl I420Converter {
    /// A converter producing `width`×`height` pictures (both must be even).
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            out: I420Frame::new(width, height),
        }
    }

    /// Convert the top-left `width`×`height` of `frame`, which may be larger.
    pub fn convert(&mut self, frame: &VideoFrame) -> Result<&I420Frame, EncodeError> {
        convert_into(frame.view(), &mut self.out)?;
        self.out.pts = frame.pts;
        Ok(&self.out)
    }
}

/// Convert the top-left of `frame` into `out` (its size says how much; its
/// `pts` is left alone): for callers that keep their own pool of pictures.
pub fn convert_into(frame: FrameRef<'_>, out: &mut I420Frame) -> Result<(), EncodeError> {
    let (w, h) = (out.width, out.height);
    let needed = frame.stride * (frame.height as usize).saturating_sub(1) + w as usize * 4;
    if frame.width < w || frame.height < h || frame.data.len() < needed {
        return Err(EncodeError::FrameSize {
            got_w: frame.width,
            got_h: frame.height,
            want_w: w,
            want_h: h,
        });
    }
    let mut planar = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(&mut out.y),
        y_stride: w,
        u_plane: BufferStoreMut::Borrowed(&mut out.u),
        u_stride: w / 2,
        v_plane: BufferStoreMut::Borrowed(&mut out.v),
        v_stride: w / 2,
        width: w,
        height: h,
    };
    bgra_to_yuv420(
        &mut planar,
        frame.data,
        frame.stride as u32,
        YuvRange::Limited,
        YuvStandardMatrix::Bt709,
        YuvConversionMode::Fast,
    )
    .map_err(|e| EncodeError::Encoder(format!("colour conversion: {e}")))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, bgra: [u8; 4]) -> VideoFrame {
        let mut f = VideoFrame::new(w, h);
        for px in f.data.chunks_exact_mut(4) {
            px.copy_from_slice(&bgra);
        }
        f
    }

    #[test]
    fn white_black_and_red_land_on_bt709_limited_values() {
        let mut c = I420Converter::new(64, 32);
        let y = c.convert(&solid(64, 32, [255, 255, 255, 255])).unwrap().y[0];
        assert!((234..=236).contains(&y), "white Y={y}");
        let y = c.convert(&solid(64, 32, [0, 0, 0, 255])).unwrap().y[0];
        assert!((15..=17).contains(&y), "black Y={y}");
        let red = c.convert(&solid(64, 32, [0, 0, 255, 255])).unwrap();
        // BT.709 red: Y≈63, Cb≈102, Cr≈240.
        assert!((60..=66).contains(&red.y[0]), "red Y={}", red.y[0]);
        assert!((98..=106).contains(&red.u[0]), "red U={}", red.u[0]);
        assert!((236..=242).contains(&red.v[0]), "red V={}", red.v[0]);
    }

    #[test]
    fn every_grey_level_lands_on_its_limited_range_luma() {
        let mut c = I420Converter::new(16, 16);
        for g in 0..=255u8 {
            let y = c.convert(&solid(16, 16, [g, g, g, 255])).unwrap().y[0];
            let want = 16.0 + 219.0 * f64::from(g) / 255.0;
            assert!(
                (f64::from(y) - want).abs() <= 0.75,
                "grey {g}: Y={y}, want {want:.2}"
            );
        }
    }

    #[test]
    fn larger_frames_are_cropped_and_smaller_refused() {
        let mut c = I420Converter::new(64, 32);
        assert!(c.convert(&solid(65, 33, [0, 0, 0, 255])).is_ok());
        assert!(matches!(
            c.convert(&solid(32, 32, [0, 0, 0, 255])),
            Err(EncodeError::FrameSize { .. })
        ));
    }
}
