/// Which elementary stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// H.264 video.
    Video,
    /// AAC audio.
    Audio,
}

/// One encoded access unit, with timestamps in milliseconds on the recording timeline.
///
/// Video payloads are H.264 NAL units in AVCC form (each prefixed by its 4-byte
/// big-endian length), which is what FLV and MP4 store. Audio payloads are raw AAC frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The stream.
    pub kind: MediaKind,
    /// Presentation time, ms.
    pub pts_ms: u64,
    /// Decoding time, ms (equal to `pts_ms` when there are no B-frames).
    pub dts_ms: u64,
    /// A random access point (IDR for video; every AAC frame is one).
    pub keyframe: bool,
    /// The payload.
    pub data: Vec<u8>,
}

/// What a decoder needs before the first video packet: the H.264 parameter sets and
/// the stream's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoConfig {
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Nominal frame rate.
    pub fps: u32,
    /// Target bitrate, bits per second.
    pub bitrate: u32,
    /// Sequence parameter set (one NAL unit, no length prefix or start code).
    pub sps: Vec<u8>,
    /// Picture parameter set (one NAL unit, no length prefix or start code).
    pub pps: Vec<u8>,
}

/// What a decoder needs before the first audio packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// Samples per second.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// MPEG-4 AudioSpecificConfig bytes.
    pub asc: Vec<u8>,
}
