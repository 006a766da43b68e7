//! How a recording opens its encoders: through the `VideoEncoder` and
//! `AudioEncoder` traits, so the pipeline runs with any codec (its tests run
//! it with a fake one). The default, [`X264Aac`], is x264 and AAC-LC.

use txcr_encode::{
    AacEncoder, AudioEncoder, EncodeError, EncoderSettings, VideoEncoder, X264Encoder,
};

/// AAC bitrate: plenty for speech and class audio at 48 kHz stereo.
pub const AAC_BITRATE: u32 = 128_000;

/// Opens the encoders of one recording.
pub trait Codecs: Send + Sync + std::fmt::Debug {
    /// The video encoder for `settings`. Called on the thread whose priority
    /// and name the encoder's own worker threads inherit.
    fn video(&self, settings: &EncoderSettings) -> Result<Box<dyn VideoEncoder>, EncodeError>;

    /// The audio encoder for `channels` (1 or 2) at `sample_rate`.
    fn audio(&self, sample_rate: u32, channels: u16) -> Result<Box<dyn AudioEncoder>, EncodeError>;
}

/// x264 for the picture, AAC-LC ([`AAC_BITRATE`]) for the sound.
#[derive(Debug, Clone, Copy, Default)]
pub struct X264Aac;

impl Codecs for X264Aac {
    fn video(&self, settings: &EncoderSettings) -> Result<Box<dyn VideoEncoder>, EncodeError> {
        Ok(Box::new(X264Encoder::new(settings)?))
    }

    fn audio(&self, sample_rate: u32, channels: u16) -> Result<Box<dyn AudioEncoder>, EncodeError> {
        Ok(Box::new(AacEncoder::new(
            sample_rate,
            channels,
            AAC_BITRATE,
        )?))
    }
}
