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
    let h = out.height;
    convert_rows_into(frame, out, 0..h)
}

/// Convert only `rows` of `frame` into the same rows of `out`, leaving the
/// others as they are: for a picture of which only some rows changed. The
/// range is widened to even rows (a chroma row covers two) and cut to the
/// picture; the rows converted are bit for bit what [`convert_into`] makes
/// of them.
pub fn convert_rows_into(
    frame: FrameRef<'_>,
    out: &mut I420Frame,
    rows: std::ops::Range<u32>,
) -> Result<(), EncodeError> {
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
    let (top, bottom) = (rows.start & !1, (rows.end.saturating_add(1) & !1).min(h));
    if top >= bottom {
        return Ok(());
    }
    let (luma, chroma) = (w as usize, w as usize / 2);
    let (t, b) = (top as usize, bottom as usize);
    let mut planar = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(&mut out.y[t * luma..b * luma]),
        y_stride: w,
        u_plane: BufferStoreMut::Borrowed(&mut out.u[t / 2 * chroma..b / 2 * chroma]),
        u_stride: w / 2,
        v_plane: BufferStoreMut::Borrowed(&mut out.v[t / 2 * chroma..b / 2 * chroma]),
        v_stride: w / 2,
        width: w,
        height: bottom - top,
    };
    bgra_to_yuv420(
        &mut planar,
        &frame.data[t * frame.stride..],
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
    fn rows_converted_alone_are_bit_for_bit_a_whole_conversion() {
        let (w, h) = (70u32, 40u32);
        let mut src = VideoFrame::new(w + 3, h + 1);
        let mut seed = 7u32;
        for b in src.data.iter_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (seed >> 16) as u8;
        }
        let mut whole = I420Frame::new(w, h);
        convert_into(src.view(), &mut whole).unwrap();
        // Rows converted piecewise, odd edges included, over a stale picture.
        let mut parts = I420Frame::new(w, h);
        for rows in [0..3, 3..4, 5..17, 17..17, 16..33, 33..40, 39..99] {
            convert_rows_into(src.view(), &mut parts, rows).unwrap();
        }
        assert!(whole.y == parts.y && whole.u == parts.u && whole.v == parts.v);
        // Only the rows asked for change.
        let mut one = I420Frame::new(w, h);
        convert_rows_into(src.view(), &mut one, 10..12).unwrap();
        let row = w as usize;
        assert_eq!(one.y[10 * row..12 * row], whole.y[10 * row..12 * row]);
        assert!(one.y[..10 * row]
            .iter()
            .chain(&one.y[12 * row..])
            .all(|&y| y == 0));
        assert!(one.u[..5 * row / 2].iter().all(|&u| u == 128));
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
