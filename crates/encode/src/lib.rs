//! Turning captured pictures into H.264: colour conversion and the x264 encoder.
//!
//! Owns: the [`VideoEncoder`] trait (the encode stage), [`I420Converter`]
//! (BGRA → I420 through the `yuv` crate, BT.709 limited range) and [`X264Encoder`]
//! (libx264 through `x264-sys`), and the choice of encoder parameters
//! ([`EncoderSettings`], [`auto_bitrate`]).
//!
//! Preview: [`thumbnail`] scales a picture down and writes it as PNG (the
//! `png` crate), for the service's `GetPreview`.
//!
//! Audio: the [`AudioEncoder`] trait and [`AacEncoder`] (AAC-LC through the
//! pure-Rust `syom`; FDK-AAC stays out because its licence conflicts with GPL
//! x264 in one binary).
//!
//! Does not own: pacing, threads, capture clocks (timestamps arrive with the
//! input) or the container.
//!
//! Why `x264-sys` and not the safe `x264` crate: the safe API cannot select ABR
//! rate control (its `.bitrate()` leaves CRF on), set VBV, threads or
//! `repeat-headers`, nor force an IDR frame, which slicing needs at every cut.
//! The FFI is kept to one file ([`x264`](X264Encoder)), each `unsafe` block
//! with its reason.
//!
//! ```no_run
//! use txcr_core::VideoFrame;
//! use txcr_encode::{EncoderSettings, VideoEncoder, X264Encoder};
//!
//! let mut enc = X264Encoder::new(&EncoderSettings::new(1280, 720, 15, 1_500_000))?;
//! let mut packets = Vec::new();
//! enc.encode(&VideoFrame::new(1280, 720), true, &mut packets)?;
//! enc.flush(&mut packets)?;
//! assert!(packets[0].keyframe);
//! # Ok::<(), txcr_encode::EncodeError>(())
//! ```

mod aac;
mod convert;
mod settings;
mod thumbnail;
mod x264;

pub use aac::{AacEncoder, AudioEncoder};
pub use convert::{convert_into, convert_rows_into, I420Converter, I420Frame};
pub use settings::{auto_bitrate, EncoderSettings, X264Options, SCREEN_PARAMS};
pub use thumbnail::{thumbnail, thumbnail_size, Thumbnail};
pub use x264::X264Encoder;

use txcr_core::{Packet, VideoConfig, VideoFrame};

/// The encode stage: pictures in, H.264 packets out.
pub trait VideoEncoder: Send {
    /// The stream's parameters and parameter sets, known once the encoder is open.
    fn config(&self) -> &VideoConfig;

    /// Encode one BGRA frame (converted first), appending any packets that
    /// are ready to `out`. `force_keyframe` makes this frame an IDR (used at
    /// slice cuts).
    fn encode(
        &mut self,
        frame: &VideoFrame,
        force_keyframe: bool,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError>;

    /// As [`encode`](Self::encode), for a picture already in I420, stamped
    /// with its `pts` (the recorder converts on its capture thread, beside
    /// the encoder's).
    fn encode_i420(
        &mut self,
        pic: &I420Frame,
        force_keyframe: bool,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError>;

    /// Drain the frames still inside the encoder, appending their packets to `out`.
    fn flush(&mut self, out: &mut Vec<Packet>) -> Result<(), EncodeError>;
}

/// What went wrong while encoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A setting the encoder refused.
    #[error("invalid encoder setting {name}={value}")]
    InvalidSetting {
        /// Parameter name.
        name: String,
        /// Parameter value.
        value: String,
    },
    /// The picture size cannot be encoded (zero, or larger than H.264 allows).
    #[error("cannot encode a {width}x{height} picture")]
    InvalidSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A frame's size does not match the encoder's.
    #[error("frame is {got_w}x{got_h}, encoder expects at least {want_w}x{want_h}")]
    FrameSize {
        /// Frame width.
        got_w: u32,
        /// Frame height.
        got_h: u32,
        /// Encoder width.
        want_w: u32,
        /// Encoder height.
        want_h: u32,
    },
    /// libx264 failed.
    #[error("x264 failed: {0}")]
    Encoder(String),
}
