//! Video and audio through the real encoders into one FLV slice, read back by
//! ffprobe/ffmpeg: both streams present, right parameters, decodable.

use std::process::Command;
use std::time::Duration;

use txcr_capture::{FrameSource, Region, TestPattern};
use txcr_core::{Packet, VideoFrame};
use txcr_encode::{AacEncoder, AudioEncoder, EncoderSettings, VideoEncoder, X264Encoder};
use txcr_mux::SliceWriter;

#[test]
fn h264_and_aac_in_one_slice_decode_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("av.flv");
    let mut video = X264Encoder::new(&EncoderSettings::new(320, 240, 15, 300_000)).unwrap();
    let mut audio = AacEncoder::new(48_000, 2, 96_000).unwrap();
    let mut writer = SliceWriter::new(
        &dst,
        60_000,
        video.config().clone(),
        Some(audio.config().clone()),
    );
    let mut src = TestPattern::new(320, 240, Region::default()).unwrap();
    let mut frame = VideoFrame::new(320, 240);
    let mut packets: Vec<Packet> = Vec::new();
    // 2 s: a frame every 66 ms, 10 ms audio blocks of a 1 kHz tone, interleaved by time.
    for ms in (0..2000u64).step_by(10) {
        if ms % 66 < 10 {
            frame.pts = Duration::from_millis(ms);
            src.grab(&mut frame).unwrap();
            video.encode(&frame, ms == 0, &mut packets).unwrap();
        }
        let tone: Vec<f32> = (0..480)
            .map(|i| {
                0.3 * ((ms as f32 * 48.0 + i as f32) * 1000.0 / 48_000.0 * std::f32::consts::TAU)
                    .sin()
            })
            .collect();
        audio
            .encode(&[&tone, &tone], ms as f64, &mut packets)
            .unwrap();
        for p in packets.drain(..) {
            writer.write(&p).unwrap();
        }
    }
    video.flush(&mut packets).unwrap();
    audio.flush(&mut packets).unwrap();
    for p in packets.drain(..) {
        writer.write(&p).unwrap();
    }
    let slice = writer.finish().unwrap().unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,sample_rate,channels,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&slice.path)
        .output()
        .expect("ffprobe is installed (cargo xtask setup)");
    let streams = String::from_utf8_lossy(&out.stdout);
    assert!(streams.contains("h264,video,320,240"), "{streams}");
    assert!(streams.contains("aac,audio,48000,2"), "{streams}");
    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&slice.path)
        .args([
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(decode.status.success());
    assert_eq!(
        String::from_utf8_lossy(&decode.stderr),
        "",
        "decodes without errors"
    );
}
