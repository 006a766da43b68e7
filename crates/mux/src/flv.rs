//! FLV building blocks: header, tags, AMF0 `onMetaData`, AVC and AAC payloads.

use txcr_core::{AudioConfig, Packet, VideoConfig};

/// Audio tag type.
pub const TAG_AUDIO: u8 = 8;
/// Video tag type.
pub const TAG_VIDEO: u8 = 9;
/// Script data tag type.
pub const TAG_SCRIPT: u8 = 18;
/// Bytes in a tag header.
pub const TAG_HEADER_LEN: usize = 11;
/// Bytes in the file header plus PreviousTagSize0.
pub const FILE_HEADER_LEN: usize = 13;

/// The 9-byte file header and the zero PreviousTagSize0.
pub fn write_file_header(out: &mut Vec<u8>, audio: bool, video: bool) {
    let flags = (u8::from(audio) << 2) | u8::from(video);
    out.extend_from_slice(&[b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]);
}

/// One tag: header, the body `fill` appends, then PreviousTagSize.
pub fn write_tag(out: &mut Vec<u8>, tag_type: u8, ts_ms: u64, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    // FLV timestamps are 32-bit milliseconds: 24 low bits then 8 high bits.
    let ts = ts_ms as u32;
    out.extend_from_slice(&[tag_type, 0, 0, 0]);
    out.extend_from_slice(&ts.to_be_bytes()[1..]);
    out.extend_from_slice(&[(ts >> 24) as u8, 0, 0, 0]);
    let body_start = out.len();
    fill(out);
    let size = (out.len() - body_start) as u32;
    out[start + 1..start + 4].copy_from_slice(&size.to_be_bytes()[1..]);
    out.extend_from_slice(&(size + TAG_HEADER_LEN as u32).to_be_bytes());
}

fn amf_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn amf_number(out: &mut Vec<u8>, key: &str, v: f64) {
    amf_string(out, key);
    out.push(0x00);
    out.extend_from_slice(&v.to_be_bytes());
}

/// The `onMetaData` script tag. Returns the offset (within `out`) of the 8-byte
/// `duration` value, so it can be patched once the slice's length is known.
pub fn write_metadata(
    out: &mut Vec<u8>,
    video: &VideoConfig,
    audio: Option<&AudioConfig>,
) -> usize {
    let mut duration_at = 0;
    write_tag(out, TAG_SCRIPT, 0, |b| {
        b.push(0x02);
        amf_string(b, "onMetaData");
        b.push(0x08);
        let count: u32 = if audio.is_some() { 11 } else { 7 };
        b.extend_from_slice(&count.to_be_bytes());
        amf_number(b, "duration", 0.0);
        duration_at = b.len() - 8;
        amf_number(b, "width", f64::from(video.width));
        amf_number(b, "height", f64::from(video.height));
        amf_number(b, "framerate", f64::from(video.fps));
        amf_number(b, "videocodecid", 7.0);
        amf_number(b, "videodatarate", f64::from(video.bitrate) / 1000.0);
        if let Some(a) = audio {
            amf_number(b, "audiocodecid", 10.0);
            amf_number(b, "audiosamplerate", f64::from(a.sample_rate));
            amf_number(b, "audiosamplesize", 16.0);
            amf_string(b, "stereo");
            b.push(0x01);
            b.push(u8::from(a.channels > 1));
        }
        amf_string(b, "encoder");
        b.push(0x02);
        amf_string(b, "txcloudrecord");
        b.extend_from_slice(&[0, 0, 9]);
    });
    duration_at
}

/// The AVC sequence header tag (AVCDecoderConfigurationRecord).
pub fn write_avc_sequence_header(out: &mut Vec<u8>, v: &VideoConfig, ts_ms: u64) {
    write_tag(out, TAG_VIDEO, ts_ms, |b| {
        b.extend_from_slice(&[0x17, 0, 0, 0, 0]);
        let profile = v.sps.get(1).copied().unwrap_or(100);
        b.extend_from_slice(&[
            1,
            profile,
            v.sps.get(2).copied().unwrap_or(0),
            v.sps.get(3).copied().unwrap_or(40),
        ]);
        b.extend_from_slice(&[0xFF, 0xE1]); // 4-byte NAL lengths, one SPS
        b.extend_from_slice(&(v.sps.len() as u16).to_be_bytes());
        b.extend_from_slice(&v.sps);
        b.push(1);
        b.extend_from_slice(&(v.pps.len() as u16).to_be_bytes());
        b.extend_from_slice(&v.pps);
        if matches!(profile, 100 | 110 | 122 | 144) {
            // chroma_format_idc 1 (4:2:0), 8-bit luma and chroma, no SPS extensions.
            b.extend_from_slice(&[0xFD, 0xF8, 0xF8, 0]);
        }
    });
}

/// One H.264 access unit (AVCC payload) as a video tag.
pub fn write_video_packet(out: &mut Vec<u8>, p: &Packet) {
    let cts = p.pts_ms.saturating_sub(p.dts_ms) as u32;
    write_tag(out, TAG_VIDEO, p.dts_ms, |b| {
        b.push(if p.keyframe { 0x17 } else { 0x27 });
        b.push(1);
        b.extend_from_slice(&cts.to_be_bytes()[1..]);
        b.extend_from_slice(&p.data);
    });
}

/// The AAC sequence header tag (AudioSpecificConfig).
pub fn write_aac_sequence_header(out: &mut Vec<u8>, a: &AudioConfig, ts_ms: u64) {
    write_tag(out, TAG_AUDIO, ts_ms, |b| {
        b.extend_from_slice(&[0xAF, 0]);
        b.extend_from_slice(&a.asc);
    });
}

/// One raw AAC frame as an audio tag.
pub fn write_audio_packet(out: &mut Vec<u8>, p: &Packet) {
    write_tag(out, TAG_AUDIO, p.dts_ms, |b| {
        b.extend_from_slice(&[0xAF, 1]);
        b.extend_from_slice(&p.data);
    });
}
