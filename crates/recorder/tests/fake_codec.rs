//! The pipeline with a fake encoder: the recorder opens its codecs through
//! the `Codecs` trait, so pacing, cutting and slice writing are tested here
//! without x264 (and an embedder can bring another encoder).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use crate::probe::video_frames;
use txcr_capture::{Region, TestPattern};
use txcr_core::{MediaKind, Packet, VideoConfig, VideoFrame};
use txcr_encode::{AudioEncoder, EncodeError, EncoderSettings, I420Frame, VideoEncoder};
use txcr_recorder::{resolve_dst, Codecs, Recording, RecordingSpec};

/// One "packet" per picture: its timestamp, keyframe when asked.
struct FakeVideo {
    config: VideoConfig,
    encoded: Arc<AtomicU64>,
}

impl VideoEncoder for FakeVideo {
    fn config(&self) -> &VideoConfig {
        &self.config
    }

    fn encode(&mut self, _: &VideoFrame, _: bool, _: &mut Vec<Packet>) -> Result<(), EncodeError> {
        panic!("the recorder hands over I420 pictures");
    }

    fn encode_i420(
        &mut self,
        pic: &I420Frame,
        force_keyframe: bool,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError> {
        self.encoded.fetch_add(1, Ordering::Relaxed);
        let ms = pic.pts.as_millis() as u64;
        out.push(Packet {
            kind: MediaKind::Video,
            pts_ms: ms,
            dts_ms: ms,
            keyframe: force_keyframe,
            data: vec![0, 0, 0, 1, 0x65],
        });
        Ok(())
    }

    fn flush(&mut self, _: &mut Vec<Packet>) -> Result<(), EncodeError> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Fake {
    encoded: Arc<AtomicU64>,
}

impl Codecs for Fake {
    fn video(&self, s: &EncoderSettings) -> Result<Box<dyn VideoEncoder>, EncodeError> {
        let config = VideoConfig {
            width: s.width,
            height: s.height,
            fps: s.fps,
            bitrate: s.bitrate,
            sps: vec![0x67, 66, 0, 30],
            pps: vec![0x68],
        };
        let encoded = self.encoded.clone();
        Ok(Box::new(FakeVideo { config, encoded }))
    }

    fn audio(&self, _: u32, _: u16) -> Result<Box<dyn AudioEncoder>, EncodeError> {
        Err(EncodeError::InvalidSetting {
            name: "audio".into(),
            value: "none in this test".into(),
        })
    }
}

#[test]
fn the_pipeline_runs_with_any_encoder_behind_the_traits() {
    let root = tempfile::tempdir().unwrap();
    let dst = resolve_dst(root.path(), "fake.flv").unwrap();
    let fake = Arc::new(Fake::default());
    let mut spec = RecordingSpec::new(dst, 20, 1);
    spec.codecs = fake.clone();
    let src = TestPattern::new(320, 240, Region::default()).unwrap();
    let rec = Recording::start(Box::new(src), Vec::new(), spec).unwrap();
    sleep(Duration::from_millis(2300));
    let stats = rec.stop().unwrap().stats;
    assert_eq!(
        stats.slices.len(),
        3,
        "cut every second: {:?}",
        stats.slices
    );
    let mut written = 0;
    for s in &stats.slices {
        let video = video_frames(&s.path);
        assert_eq!(u64::from(video[0].0), s.info.start_ms);
        written += video.len() as u64;
    }
    assert_eq!(written, stats.frames);
    assert_eq!(
        fake.encoded.load(Ordering::Relaxed),
        stats.frames,
        "every frame went through the fake"
    );
    let slots = stats.frames + stats.dropped;
    assert!(slots >= 40, "{slots} frame slots in 2.3 s at 20 fps");
}
