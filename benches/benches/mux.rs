//! FLV muxing per packet: ten seconds of 1080p15 H.264 (encoded once, up
//! front) and AAC-sized packets, written as FLV tags into a slice in memory
//! (`Slicer`) and to a file on disk (`SliceWriter`, what the recorder uses).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txcr_capture::{FrameSource, Region, Scene, TestPattern};
use txcr_core::{AudioConfig, MediaKind, Packet, VideoFrame};
use txcr_encode::{auto_bitrate, EncoderSettings, VideoEncoder, X264Encoder};
use txcr_mux::{SliceWriter, Slicer};

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: u32 = 15;

fn stream() -> (txcr_core::VideoConfig, AudioConfig, Vec<Packet>) {
    let mut src = TestPattern::with_scene(W, H, Region::default(), Scene::Document).unwrap();
    let mut enc =
        X264Encoder::new(&EncoderSettings::new(W, H, FPS, auto_bitrate(W, H, FPS))).unwrap();
    let mut out = Vec::new();
    let mut f = VideoFrame::new(W, H);
    for i in 0..u64::from(FPS) * 10 {
        f.pts = Duration::from_millis(i * 1000 / u64::from(FPS));
        src.grab(&mut f).unwrap();
        enc.encode(&f, false, &mut out).unwrap();
    }
    enc.flush(&mut out).unwrap();
    // AAC at 48 kHz: a 1024-sample frame every 21.3 ms, ~340 bytes at 128 kbit/s.
    for i in 0..469u64 {
        out.push(Packet {
            kind: MediaKind::Audio,
            pts_ms: i * 1024 * 1000 / 48_000,
            dts_ms: i * 1024 * 1000 / 48_000,
            keyframe: true,
            data: vec![0x21; 340],
        });
    }
    out.sort_by_key(|p| p.dts_ms);
    let audio = AudioConfig {
        sample_rate: 48_000,
        channels: 2,
        asc: vec![0x11, 0x90],
    };
    (enc.config().clone(), audio, out)
}

fn mux(c: &mut Criterion) {
    let (video, audio, packets) = stream();
    let mut g = c.benchmark_group("mux_flv");
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("slicer_10s_1080p15_aac", |b| {
        b.iter(|| {
            let mut s = Slicer::new(3_600_000, video.clone(), Some(audio.clone()));
            let mut bytes = 0;
            for p in &packets {
                s.push(p);
                bytes += s.pending().len();
                s.clear_pending();
            }
            bytes
        })
    });
    let dir = tempfile::tempdir().unwrap();
    g.bench_function("slice_writer_file_10s_1080p15_aac", |b| {
        b.iter(|| {
            let mut w = SliceWriter::new(
                &dir.path().join("bench.flv"),
                3_600_000,
                video.clone(),
                Some(audio.clone()),
            );
            for p in &packets {
                w.write(p).unwrap();
            }
            let done = w.finish().unwrap().unwrap();
            // Slices are created exclusively (never overwritten): clear it.
            std::fs::remove_file(&done.path).unwrap();
            done.info.bytes
        })
    });
    g.finish();
}

criterion_group!(benches, mux);
criterion_main!(benches);
