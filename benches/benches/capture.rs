//! Grab + convert at 1080p, the work done for every frame before x264: the
//! synthetic pattern's grab (a baseline: one write pass), BGRA→I420, and, when
//! `TXCR_BENCH_WINDOW` names a window on `$DISPLAY` (`cargo xtask criterion`
//! starts Xvfb and a test window for this), a real X11 grab (Composite + SHM)
//! copied into a frame, copied and converted (before), and converted straight
//! from the shared-memory image (after; what the recorder does).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txcr_capture::{FrameSource, Region, Scene, TestPattern};
use txcr_core::VideoFrame;
use txcr_encode::I420Converter;
#[cfg(target_os = "linux")]
use txcr_encode::{convert_into, I420Frame};

const W: u32 = 1920;
const H: u32 = 1080;

fn grab_convert(c: &mut Criterion) {
    let mut g = c.benchmark_group("grab_convert_1080p");
    g.throughput(Throughput::Elements(1));
    let mut frame = VideoFrame::new(W, H);
    let mut conv = I420Converter::new(W, H);
    let mut pattern = TestPattern::with_scene(W, H, Region::default(), Scene::Document).unwrap();
    let mut ms = 0;
    g.bench_function("pattern_grab", |b| {
        b.iter(|| {
            ms += 66;
            frame.pts = Duration::from_millis(ms);
            pattern.grab(&mut frame).unwrap();
        })
    });
    g.bench_function("bgra_to_i420", |b| {
        b.iter(|| conv.convert(&frame).unwrap().y[0])
    });
    x11(&mut g, &mut frame, &mut conv);
    g.finish();
}

#[cfg(target_os = "linux")]
fn x11(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    frame: &mut VideoFrame,
    conv: &mut I420Converter,
) {
    use txcr_capture::x11::{X11Options, X11Source, X11Target};
    let Some(id) = std::env::var("TXCR_BENCH_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
    else {
        eprintln!("TXCR_BENCH_WINDOW unset: no X11 grab bench (cargo xtask criterion sets it)");
        return;
    };
    let mut src = X11Source::open(
        &X11Target::Window(id),
        Region::default(),
        &X11Options::default(),
    )
    .expect("open the bench window");
    assert_eq!(src.size(), (W, H), "the bench window must be 1920x1080");
    // Before: the SHM image copied into a BGRA frame, then converted.
    g.bench_function("x11_shm_grab_copy", |b| b.iter(|| src.grab(frame).unwrap()));
    g.bench_function("x11_shm_grab_copy_convert", |b| {
        b.iter(|| {
            src.grab(frame).unwrap();
            conv.convert(frame).unwrap().y[0]
        })
    });
    // After (what the recorder does): converted straight from the SHM image.
    let mut pic = I420Frame::new(W, H);
    g.bench_function("x11_shm_lend_convert", |b| {
        b.iter(|| {
            src.grab_view(frame, &mut |view| convert_into(view, &mut pic).unwrap())
                .unwrap()
        })
    });
}

#[cfg(not(target_os = "linux"))]
fn x11(
    _: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    _: &mut VideoFrame,
    _: &mut I420Converter,
) {
}

criterion_group!(benches, grab_convert);
criterion_main!(benches);
