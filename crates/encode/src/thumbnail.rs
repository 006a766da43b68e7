//! Small pictures of the recording for a preview: I420 scaled down (box
//! filter on luma, nearest on chroma), converted to RGB and written as PNG.

use std::time::Duration;

use yuv::{yuv420_to_rgb, YuvPlanarImage, YuvRange, YuvStandardMatrix};

use crate::{EncodeError, I420Frame};

/// A preview picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The picture as a PNG file.
    pub png: Vec<u8>,
    /// Presentation time of the frame it shows.
    pub pts: Duration,
}

/// The size a `width`×`height` picture takes at most `max_width` wide: never
/// scaled up, aspect kept, both even and at least 2.
pub fn thumbnail_size(width: u32, height: u32, max_width: u32) -> (u32, u32) {
    let w = width.min(max_width).max(2) & !1;
    let h = (u64::from(height) * u64::from(w) / u64::from(width.max(1))) as u32;
    (w, h.max(2) & !1)
}

/// `frame` scaled to at most `max_width` pixels wide, as PNG.
pub fn thumbnail(frame: &I420Frame, max_width: u32) -> Result<Thumbnail, EncodeError> {
    let (w, h) = thumbnail_size(frame.width, frame.height, max_width);
    let small = scale(frame, w, h);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    let planar = YuvPlanarImage {
        y_plane: &small.y,
        y_stride: w,
        u_plane: &small.u,
        u_stride: w / 2,
        v_plane: &small.v,
        v_stride: w / 2,
        width: w,
        height: h,
    };
    yuv420_to_rgb(
        &planar,
        &mut rgb,
        w * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt709,
    )
    .map_err(|e| EncodeError::Encoder(format!("preview colour conversion: {e}")))?;
    let mut png = Vec::new();
    let mut enc = png::Encoder::new(&mut png, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let write = |enc: png::Encoder<&mut Vec<u8>>| -> Result<(), png::EncodingError> {
        let mut writer = enc.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()
    };
    write(enc).map_err(|e| EncodeError::Encoder(format!("preview PNG: {e}")))?;
    Ok(Thumbnail {
        width: w,
        height: h,
        png,
        pts: frame.pts,
    })
}

/// Box-filtered luma (each output pixel the mean of its source rectangle),
/// nearest chroma: cheap, and text stays readable.
fn scale(src: &I420Frame, w: u32, h: u32) -> I420Frame {
    let mut out = I420Frame::new(w, h);
    out.pts = src.pts;
    let (sw, sh) = (src.width as usize, src.height as usize);
    let (w, h) = (w as usize, h as usize);
    for oy in 0..h {
        let (y0, y1) = (oy * sh / h, ((oy + 1) * sh / h).max(oy * sh / h + 1));
        for ox in 0..w {
            let (x0, x1) = (ox * sw / w, ((ox + 1) * sw / w).max(ox * sw / w + 1));
            let mut sum = 0u32;
            for row in src.y[y0 * sw..y1 * sw].chunks_exact(sw) {
                sum += row[x0..x1].iter().map(|&p| u32::from(p)).sum::<u32>();
            }
            out.y[oy * w + ox] = (sum / ((y1 - y0) * (x1 - x0)) as u32) as u8;
        }
    }
    let (scw, sch, cw, ch) = (sw / 2, sh / 2, w / 2, h / 2);
    for oy in 0..ch {
        let sy = (oy * sch / ch).min(sch.saturating_sub(1));
        for ox in 0..cw {
            let sx = (ox * scw / cw).min(scw.saturating_sub(1));
            out.u[oy * cw + ox] = src.u[sy * scw + sx];
            out.v[oy * cw + ox] = src.v[sy * scw + sx];
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_aspect_and_never_grow() {
        assert_eq!(thumbnail_size(1920, 1080, 320), (320, 180));
        assert_eq!(thumbnail_size(1280, 720, 4000), (1280, 720));
        assert_eq!(thumbnail_size(101, 1001, 33), (32, 316));
        assert_eq!(thumbnail_size(2, 2, 16), (2, 2));
    }

    #[test]
    fn a_picture_shrinks_to_a_png_of_its_colours() {
        // Left half white, right half black, limited range.
        let mut f = I420Frame::new(640, 360);
        for row in f.y.chunks_exact_mut(640) {
            row[..320].fill(235);
            row[320..].fill(16);
        }
        let t = thumbnail(&f, 64).unwrap();
        assert_eq!((t.width, t.height), (64, 36));
        let dec = png::Decoder::new(std::io::Cursor::new(&t.png));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (64, 36));
        let px = |x: usize, y: usize| &buf[(y * 64 + x) * 3..][..3];
        assert!(px(5, 10).iter().all(|&c| c > 245), "{:?}", px(5, 10));
        assert!(px(60, 30).iter().all(|&c| c < 10), "{:?}", px(60, 30));
    }
}
