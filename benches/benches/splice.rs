//! The splice: five 2 s slices (640x360@15 H.264 + 48 kHz AAC, made once by
//! our encoders) joined into one faststart MP4, written to a sink.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txcr_capture::{FrameSource, Region, TestPattern};
use txcr_core::{Packet, VideoFrame};
use txcr_encode::{AacEncoder, AudioEncoder, EncoderSettings, VideoEncoder, X264Encoder};
use txcr_mux::{CutPlanner, SliceWriter};

fn make_slices(dir: &std::path::Path) -> Vec<PathBuf> {
    let (w, h, fps) = (640, 360, 15u64);
    let mut video = X264Encoder::new(&EncoderSettings::new(w, h, fps as u32, 800_000)).unwrap();
    let mut audio = AacEncoder::new(48_000, 2, 96_000).unwrap();
    let mut writer = SliceWriter::new(
        &dir.join("bench.flv"),
        2000,
        video.config().clone(),
        Some(audio.config().clone()),
    );
    let mut planner = CutPlanner::new(2000);
    let mut src = TestPattern::new(w, h, Region::default()).unwrap();
    let mut frame = VideoFrame::new(w, h);
    let mut packets: Vec<Packet> = Vec::new();
    let mut out = Vec::new();
    let tone = vec![0.1f32; 480];
    for ms in (0..10_000u64).step_by(10) {
        if ms % (1000 / fps) < 10 {
            frame.pts = Duration::from_millis(ms);
            src.grab(&mut frame).unwrap();
            video
                .encode(&frame, planner.force_keyframe(ms), &mut packets)
                .unwrap();
        }
        audio
            .encode(&[&tone, &tone], ms as f64, &mut packets)
            .unwrap();
        for p in packets.drain(..) {
            out.extend(writer.write(&p).unwrap());
        }
    }
    video.flush(&mut packets).unwrap();
    for p in packets.drain(..) {
        out.extend(writer.write(&p).unwrap());
    }
    out.extend(writer.finish().unwrap());
    out.into_iter().map(|s| s.path).collect()
}

fn splice(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let slices = make_slices(dir.path());
    let bytes: u64 = slices
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let mut g = c.benchmark_group("splice");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("flv_slices_to_faststart_mp4", |b| {
        b.iter(|| {
            txcr_splice::splice(&slices, &[], &mut std::io::sink())
                .unwrap()
                .bytes
        })
    });
    g.finish();
}

criterion_group!(benches, splice);
criterion_main!(benches);
