//! The encode path at 1080p: BGRA→I420 conversion alone, and conversion + x264 +
//! FLV muxing per frame, on the moving test pattern.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txcr_capture::{FrameSource, Region, TestPattern};
use txcr_core::{Packet, VideoFrame};
use txcr_encode::{auto_bitrate, EncoderSettings, I420Converter, VideoEncoder, X264Encoder};
use txcr_mux::{CutPlanner, Slicer};

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: u32 = 15;

fn frames(n: u32) -> Vec<VideoFrame> {
    let mut src = TestPattern::new(W, H, Region::default()).unwrap();
    (0..n)
        .map(|i| {
            let mut f = VideoFrame::new(W, H);
            f.pts = Duration::from_millis(u64::from(i) * 1000 / u64::from(FPS));
            src.grab(&mut f).unwrap();
            f
        })
        .collect()
}

fn convert(c: &mut Criterion) {
    let fs = frames(4);
    let mut conv = I420Converter::new(W, H);
    let mut g = c.benchmark_group("convert_1080p");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("bgra_to_i420", |b| {
        b.iter(|| {
            i = (i + 1) % fs.len();
            conv.convert(&fs[i]).unwrap().y[0]
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let fs = frames(30);
    let mut enc =
        X264Encoder::new(&EncoderSettings::new(W, H, FPS, auto_bitrate(W, H, FPS))).unwrap();
    let mut slicer = Slicer::new(300_000, enc.config().clone(), None);
    let mut planner = CutPlanner::new(300_000);
    let mut packets: Vec<Packet> = Vec::new();
    let mut n: u64 = 0;
    let mut g = c.benchmark_group("encode_1080p15");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("convert_x264_veryfast_flv", |b| {
        b.iter(|| {
            let f = &mut fs[(n % 30) as usize].clone();
            f.pts = Duration::from_millis(n * 1000 / u64::from(FPS));
            n += 1;
            enc.encode(
                f,
                planner.force_keyframe(f.pts.as_millis() as u64),
                &mut packets,
            )
            .unwrap();
            for p in packets.drain(..) {
                slicer.push(&p);
            }
            let len = slicer.pending().len();
            slicer.clear_pending();
            len
        })
    });
    g.finish();
}

criterion_group!(benches, convert, encode);
criterion_main!(benches);
