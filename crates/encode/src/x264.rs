//! The only file that talks to libx264.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::raw::c_int;
use std::ptr;

use txcr_core::{MediaKind, Packet, VideoConfig, VideoFrame};
use x264_sys as sys;

use crate::{EncodeError, EncoderSettings, I420Converter, I420Frame, VideoEncoder, X264Options};

/// H.264 encoder on libx264: ABR with VBV, no B-frames (so decode order is
/// presentation order and FLV composition offsets stay zero), AVCC output
/// (length-prefixed NAL units), parameter sets out of band, BT.709 VUI.
pub struct X264Encoder {
    enc: *mut sys::x264_t,
    /// For BGRA input only; made on first use.
    converter: Option<I420Converter>,
    config: VideoConfig,
}

impl std::fmt::Debug for X264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X264Encoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

// SAFETY: the x264_t handle is owned exclusively by this value and only used
// through &mut self; libx264 has no thread affinity.
unsafe impl Send for X264Encoder {}

fn cstr(s: &str) -> Result<CString, EncodeError> {
    CString::new(s).map_err(|_| EncodeError::InvalidSetting {
        name: "string".into(),
        value: s.escape_debug().to_string(),
    })
}

fn parse(p: &mut sys::x264_param_t, name: &str, value: &str) -> Result<(), EncodeError> {
    let (n, v) = (cstr(name)?, cstr(value)?);
    // SAFETY: p is an initialised parameter struct, n and v are NUL-terminated.
    let rc = unsafe { sys::x264_param_parse(p, n.as_ptr(), v.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(EncodeError::InvalidSetting {
            name: name.into(),
            value: value.into(),
        })
    }
}

fn params(s: &EncoderSettings) -> Result<sys::x264_param_t, EncodeError> {
    let (w, h) = s.coded_size();
    if w < 16 || h < 16 || w > 8192 || h > 8192 || s.fps == 0 {
        return Err(EncodeError::InvalidSize {
            width: s.width,
            height: s.height,
        });
    }
    let preset = cstr(&s.x264.preset)?;
    let tune = s.x264.tune.as_deref().map(cstr).transpose()?;
    let mut p = MaybeUninit::<sys::x264_param_t>::uninit();
    // SAFETY: x264_param_default_preset fully initialises the struct it is given
    // (it starts with x264_param_default) and reads only the two C strings.
    let rc = unsafe {
        sys::x264_param_default_preset(
            p.as_mut_ptr(),
            preset.as_ptr(),
            tune.as_ref().map_or(ptr::null(), |t| t.as_ptr()),
        )
    };
    if rc != 0 {
        return Err(EncodeError::InvalidSetting {
            name: "preset/tune".into(),
            value: s.x264.preset.clone(),
        });
    }
    // SAFETY: initialised by x264_param_default_preset above (rc == 0).
    let mut p = unsafe { p.assume_init() };
    p.i_width = w as c_int;
    p.i_height = h as c_int;
    p.i_csp = sys::X264_CSP_I420 as c_int;
    p.i_log_level = sys::X264_LOG_WARNING as c_int;
    // Timestamps are milliseconds from the capture clock; rate control follows them.
    p.b_vfr_input = 1;
    p.i_timebase_num = 1;
    p.i_timebase_den = 1000;
    parse(&mut p, "threads", &s.threads.to_string())?;
    for kv in s.x264.params.iter().flat_map(|p| p.split(':')) {
        let (name, value) = kv.split_once('=').unwrap_or((kv, "1"));
        if !name.is_empty() {
            parse(&mut p, name.trim(), value.trim())?;
        }
    }
    let kbps = (s.bitrate / 1000).max(1).to_string();
    for (name, value) in [
        ("fps", s.fps.to_string()),
        ("bitrate", kbps.clone()),
        ("vbv-maxrate", kbps.clone()),
        ("vbv-bufsize", kbps),
        ("bframes", "0".into()),
        ("keyint", (s.fps * s.keyint_secs.max(1)).to_string()),
        ("annexb", "0".into()),
        ("repeat-headers", "0".into()),
        ("colorprim", "bt709".into()),
        ("transfer", "bt709".into()),
        ("colormatrix", "bt709".into()),
        ("fullrange", "off".into()),
    ] {
        parse(&mut p, name, &value)?;
    }
    let profile = cstr("high")?;
    // SAFETY: p is initialised; profile is NUL-terminated.
    if unsafe { sys::x264_param_apply_profile(&mut p, profile.as_ptr()) } != 0 {
        return Err(EncodeError::InvalidSetting {
            name: "profile".into(),
            value: "high".into(),
        });
    }
    Ok(p)
}

/// Copies out the NAL units x264 returned. With `annexb=0` each payload starts
/// with its 4-byte length, and consecutive payloads are contiguous.
///
/// # Safety
/// `nals` must point to `n` NAL descriptors returned by the last x264 call.
unsafe fn nal_slice<'a>(nals: *const sys::x264_nal_t, n: c_int) -> &'a [sys::x264_nal_t] {
    if nals.is_null() || n <= 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(nals, n as usize) }
}

/// # Safety
/// `nal.p_payload` must be valid for `nal.i_payload` bytes.
unsafe fn payload(nal: &sys::x264_nal_t) -> &[u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(nal.p_payload, nal.i_payload.max(0) as usize) }
}

impl X264Options {
    /// Whether libx264 takes these options (the preset, the tune and each
    /// `key=value`), by parsing them into a parameter set as an encoder
    /// would, without opening one: for checking configuration at start-up.
    pub fn check(&self) -> Result<(), EncodeError> {
        let mut s = EncoderSettings::new(64, 64, 15, 300_000);
        s.x264 = self.clone();
        params(&s).map(drop)
    }
}

impl X264Encoder {
    /// Open an encoder; fails on sizes or settings libx264 refuses.
    pub fn new(settings: &EncoderSettings) -> Result<Self, EncodeError> {
        let mut p = params(settings)?;
        // SAFETY: p is a complete, validated parameter struct; x264 copies it.
        let enc = unsafe { sys::x264_encoder_open(&mut p) };
        if enc.is_null() {
            return Err(EncodeError::Encoder(
                "x264_encoder_open refused the parameters".into(),
            ));
        }
        let (width, height) = settings.coded_size();
        let mut me = Self {
            enc,
            converter: None,
            config: VideoConfig {
                width,
                height,
                fps: settings.fps,
                bitrate: settings.bitrate,
                sps: Vec::new(),
                pps: Vec::new(),
            },
        };
        me.read_headers()?;
        Ok(me)
    }

    fn read_headers(&mut self) -> Result<(), EncodeError> {
        let mut nals: *mut sys::x264_nal_t = ptr::null_mut();
        let mut n: c_int = 0;
        // SAFETY: enc is open; x264 fills nals/n with memory it owns until the next call.
        if unsafe { sys::x264_encoder_headers(self.enc, &mut nals, &mut n) } < 0 {
            return Err(EncodeError::Encoder("x264_encoder_headers failed".into()));
        }
        // SAFETY: nals/n come straight from x264_encoder_headers.
        for nal in unsafe { nal_slice(nals, n) } {
            // SAFETY: the descriptor came from x264 just now.
            let bytes = unsafe { payload(nal) };
            let body = bytes.get(4..).unwrap_or_default().to_vec();
            // bindgen types the NAL constants as the platform's C enum type
            // (unsigned on Linux, int on MSVC): compare them widened.
            match i64::from(nal.i_type) {
                t if t == i64::from(sys::nal_unit_type_e_NAL_SPS) => self.config.sps = body,
                t if t == i64::from(sys::nal_unit_type_e_NAL_PPS) => self.config.pps = body,
                _ => {}
            }
        }
        if self.config.sps.len() < 4 || self.config.pps.is_empty() {
            return Err(EncodeError::Encoder("x264 produced no SPS/PPS".into()));
        }
        Ok(())
    }

    fn collect(
        &self,
        nals: *mut sys::x264_nal_t,
        n: c_int,
        size: c_int,
        pic: &sys::x264_picture_t,
        out: &mut Vec<Packet>,
    ) {
        if size <= 0 {
            return;
        }
        let mut data = Vec::with_capacity(size as usize);
        // SAFETY: nals/n come straight from x264_encoder_encode.
        for nal in unsafe { nal_slice(nals, n) } {
            // SAFETY: the descriptor came from x264 just now.
            data.extend_from_slice(unsafe { payload(nal) });
        }
        let pts = pic.i_pts.max(0) as u64;
        out.push(Packet {
            kind: MediaKind::Video,
            pts_ms: pts,
            // No B-frames: decode order is presentation order.
            dts_ms: pts,
            keyframe: pic.b_keyframe != 0,
            data,
        });
    }

    fn encode_raw(
        &mut self,
        pic_in: Option<&mut sys::x264_picture_t>,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError> {
        let mut nals: *mut sys::x264_nal_t = ptr::null_mut();
        let mut n: c_int = 0;
        let mut pic_out = MaybeUninit::<sys::x264_picture_t>::uninit();
        // SAFETY: x264_picture_init writes every field.
        unsafe { sys::x264_picture_init(pic_out.as_mut_ptr()) };
        // SAFETY: initialised just above.
        let mut pic_out = unsafe { pic_out.assume_init() };
        let pic_in = pic_in.map_or(ptr::null_mut(), |p| p as *mut _);
        // SAFETY: enc is open; pic_in is null (flush) or a picture whose planes
        // point into the converter's buffers, alive for this call (x264 copies them).
        let size =
            unsafe { sys::x264_encoder_encode(self.enc, &mut nals, &mut n, pic_in, &mut pic_out) };
        if size < 0 {
            return Err(EncodeError::Encoder("x264_encoder_encode failed".into()));
        }
        self.collect(nals, n, size, &pic_out, out);
        Ok(())
    }
}

impl VideoEncoder for X264Encoder {
    fn config(&self) -> &VideoConfig {
        &self.config
    }

    fn encode(
        &mut self,
        frame: &VideoFrame,
        force_keyframe: bool,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError> {
        let (w, h) = (self.config.width, self.config.height);
        let mut conv = self
            .converter
            .take()
            .unwrap_or_else(|| I420Converter::new(w, h));
        let r = conv
            .convert(frame)
            .and_then(|pic| self.encode_i420(pic, force_keyframe, out));
        self.converter = Some(conv);
        r
    }

    fn encode_i420(
        &mut self,
        i420: &I420Frame,
        force_keyframe: bool,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError> {
        if (i420.width, i420.height) != (self.config.width, self.config.height) {
            return Err(EncodeError::FrameSize {
                got_w: i420.width,
                got_h: i420.height,
                want_w: self.config.width,
                want_h: self.config.height,
            });
        }
        // Timestamps are the recorder's: it gives strictly increasing ones,
        // and the slicer refuses any that are not (a silent +1 ms here hid a
        // frame stamped twice at a pause, which players then showed twice).
        let pts = i420.pts.as_millis() as i64;
        let mut pic = MaybeUninit::<sys::x264_picture_t>::uninit();
        // SAFETY: x264_picture_init writes every field.
        unsafe { sys::x264_picture_init(pic.as_mut_ptr()) };
        // SAFETY: initialised just above.
        let mut pic = unsafe { pic.assume_init() };
        pic.i_pts = pts;
        pic.i_type = if force_keyframe {
            sys::X264_TYPE_IDR
        } else {
            sys::X264_TYPE_AUTO
        } as c_int;
        pic.img.i_csp = sys::X264_CSP_I420 as c_int;
        pic.img.i_plane = 3;
        let w = i420.width as c_int;
        pic.img.i_stride = [w, w / 2, w / 2, 0];
        // x264 only reads the input planes; the *mut is its C signature.
        pic.img.plane = [
            i420.y.as_ptr() as *mut u8,
            i420.u.as_ptr() as *mut u8,
            i420.v.as_ptr() as *mut u8,
            ptr::null_mut(),
        ];
        self.encode_raw(Some(&mut pic), out)
    }

    fn flush(&mut self, out: &mut Vec<Packet>) -> Result<(), EncodeError> {
        // SAFETY: enc is open.
        while unsafe { sys::x264_encoder_delayed_frames(self.enc) } > 0 {
            self.encode_raw(None, out)?;
        }
        Ok(())
    }
}

impl Drop for X264Encoder {
    fn drop(&mut self) {
        // SAFETY: enc was opened in new() and is closed exactly once, here.
        unsafe { sys::x264_encoder_close(self.enc) };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn options_are_checked_without_an_encoder() {
        let good = X264Options::default();
        assert!(good.check().is_ok());
        let bad_preset = X264Options {
            preset: "warp".into(),
            ..good.clone()
        };
        assert!(bad_preset.check().is_err());
        let bad_param = X264Options {
            params: Some("no-such-option=1".into()),
            ..good
        };
        assert!(bad_param.check().is_err());
    }

    fn frame(w: u32, h: u32, i: u32) -> VideoFrame {
        let mut f = VideoFrame::new(w, h);
        for (n, px) in f.data.chunks_exact_mut(4).enumerate() {
            let v = ((n as u32 + i * 7) % 251) as u8;
            px.copy_from_slice(&[v, v.wrapping_mul(3), v.wrapping_add(i as u8), 255]);
        }
        f.pts = Duration::from_millis(u64::from(i) * 66);
        f
    }

    #[test]
    fn encodes_with_parameter_sets_and_forced_idr() {
        let mut enc = X264Encoder::new(&EncoderSettings::new(161, 121, 15, 400_000)).unwrap();
        assert_eq!((enc.config().width, enc.config().height), (160, 120));
        assert_eq!(enc.config().sps[0] & 0x1f, 7, "SPS NAL type");
        assert_eq!(enc.config().pps[0] & 0x1f, 8, "PPS NAL type");
        let mut out = Vec::new();
        for i in 0..30 {
            enc.encode(&frame(161, 121, i), i == 20, &mut out).unwrap();
        }
        enc.flush(&mut out).unwrap();
        assert_eq!(out.len(), 30, "one packet per frame, none lost in flush");
        assert!(out[0].keyframe);
        let forced = out.iter().find(|p| p.pts_ms == 20 * 66).unwrap();
        assert!(forced.keyframe, "frame 20 was forced to IDR");
        assert!(out.windows(2).all(|w| w[0].dts_ms < w[1].dts_ms));
        // AVCC: the first 4 bytes are the first NAL's length.
        let p = &out[5];
        let len = u32::from_be_bytes([p.data[0], p.data[1], p.data[2], p.data[3]]) as usize;
        assert!(len + 4 <= p.data.len());
    }

    #[test]
    fn extra_params_apply_and_bad_ones_are_refused() {
        let mut s = EncoderSettings::new(160, 120, 15, 400_000);
        s.x264.tune = Some("zerolatency".into());
        s.x264.params = Some(crate::SCREEN_PARAMS.into());
        let mut enc = X264Encoder::new(&s).unwrap();
        let mut out = Vec::new();
        enc.encode(&frame(160, 120, 0), false, &mut out).unwrap();
        enc.flush(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        s.x264.params = Some("me=nonsense".into());
        assert!(matches!(
            X264Encoder::new(&s),
            Err(EncodeError::InvalidSetting { .. })
        ));
    }

    #[test]
    fn refuses_tiny_sizes() {
        assert!(matches!(
            X264Encoder::new(&EncoderSettings::new(8, 8, 15, 400_000)),
            Err(EncodeError::InvalidSize { .. })
        ));
    }
}
