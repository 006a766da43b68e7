//! x264 at 1080p15 per frame (conversion included, as the encoder takes BGRA),
//! on the scrolling-document scene: the preset with no tune, with `zerolatency`,
//! and with `zerolatency` + `SCREEN_PARAMS` (the service's default). Wall time
//! per frame: slice threads (zerolatency) spread a frame over the cores, frame
//! threads overlap frames, so CPU per frame is `cargo xtask bench`'s to tell.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txcr_capture::{FrameSource, Region, Scene, TestPattern};
use txcr_core::{Packet, VideoFrame};
use txcr_encode::{auto_bitrate, EncoderSettings, VideoEncoder, X264Encoder, SCREEN_PARAMS};

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: u32 = 15;

fn frames(n: u32) -> Vec<VideoFrame> {
    let mut src = TestPattern::with_scene(W, H, Region::default(), Scene::Document).unwrap();
    (0..n)
        .map(|i| {
            let mut f = VideoFrame::new(W, H);
            f.pts = Duration::from_millis(u64::from(i) * 1000 / u64::from(FPS));
            src.grab(&mut f).unwrap();
            f
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let fs = frames(60);
    let mut g = c.benchmark_group("encode_1080p15");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    let variants = [
        ("notune", None, None),
        ("zerolatency", Some("zerolatency"), None),
        (
            "zerolatency_screen",
            Some("zerolatency"),
            Some(SCREEN_PARAMS),
        ),
    ];
    for (label, tune, params) in variants {
        let mut s = EncoderSettings::new(W, H, FPS, auto_bitrate(W, H, FPS));
        s.x264.tune = tune.map(str::to_owned);
        s.x264.params = params.map(str::to_owned);
        let mut enc = X264Encoder::new(&s).unwrap();
        let mut packets: Vec<Packet> = Vec::new();
        let mut n: u64 = 0;
        let name = format!("x264_veryfast_{label}");
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut f = fs[(n % 60) as usize].clone();
                f.pts = Duration::from_millis(n * 1000 / u64::from(FPS));
                n += 1;
                enc.encode(&f, false, &mut packets).unwrap();
                let len = packets.len();
                packets.clear();
                len
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
