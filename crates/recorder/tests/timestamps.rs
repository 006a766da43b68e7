//! Timestamps through pause, resume, previews, limits and stops: per stream
//! they strictly increase, and video steps one frame interval across a pause,
//! whatever the callers race each other with. Read back by ffprobe, decoded by
//! ffmpeg at the stream's frame rate.

use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use txcr_capture::audio::ToneSource;
use txcr_capture::{Region, TestPattern};
use txcr_recorder::{resolve_dst, Recording, RecordingSpec, SoundInput, Summary};

use crate::probe::{packet_times, strict_decode_errors};

const FPS: u32 = 15;

/// Deterministic pseudo-random numbers (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn spec(dir: &tempfile::TempDir, name: &str, slice_secs: u32) -> RecordingSpec {
    let dst = resolve_dst(dir.path(), name).unwrap();
    RecordingSpec::new(dst, FPS, slice_secs)
}

/// A 640x360 test pattern with a tone.
fn start(spec: RecordingSpec) -> Recording {
    let src = TestPattern::new(640, 360, Region::default()).unwrap();
    let tone = Box::new(ToneSource::new(440.0));
    Recording::start(Box::new(src), vec![SoundInput::new("tone", tone)], spec).unwrap()
}

/// Every slice decodes cleanly at its frame rate; per stream the times
/// strictly increase over the whole recording; video steps exactly one frame
/// (to the ms) except where frames were counted as dropped. Returns the video
/// packet times.
fn check(summary: &Summary) -> Vec<f64> {
    let stats = &summary.stats;
    assert!(stats.failure.is_none(), "{:?}", stats.failure);
    let (mut video, mut audio) = (vec![], vec![]);
    for s in &stats.slices {
        assert_eq!(strict_decode_errors(&s.path), "", "{}", s.path.display());
        video.extend(packet_times(&s.path, "v:0"));
        audio.extend(packet_times(&s.path, "a:0"));
    }
    for (stream, times) in [("video", &video), ("audio", &audio)] {
        for w in times.windows(2) {
            assert!(w[1] > w[0], "{stream} at {:.3}s, then {:.3}s", w[0], w[1]);
        }
    }
    let interval = 1.0 / f64::from(FPS);
    let mut missing = 0;
    for w in video.windows(2) {
        let step = w[1] - w[0];
        assert!(
            step > interval - 0.0015,
            "a video step of {step:.3}s at {:.3}s, shorter than a frame",
            w[0]
        );
        missing += (step / interval).round() as u64 - 1;
    }
    assert!(
        missing <= stats.dropped,
        "{missing} frame slots empty, {} counted as dropped",
        stats.dropped
    );
    assert_eq!(video.len() as u64, stats.frames, "every frame written once");
    video
}

#[test]
fn a_break_in_class_never_stamps_a_frame_twice() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..3 {
        let rec = start(spec(&dir, &format!("break{n}.flv"), 300));
        sleep(Duration::from_secs(2));
        rec.pause();
        sleep(Duration::from_secs(2));
        rec.resume();
        sleep(Duration::from_secs(2));
        let summary = rec.stop().unwrap();
        let video = check(&summary);
        assert_eq!(summary.stats.slices.len(), 1);
        let span = video.last().unwrap() - video[0];
        assert!((3.7..4.3).contains(&span), "4 s recorded, got {span:.2}");
    }
}

#[test]
fn previews_while_pausing_for_breaks_change_nothing_recorded() {
    // As the example page does it: a preview every 0.5 s, a 1 s break every 3 s.
    let dir = tempfile::tempdir().unwrap();
    let rec = start(spec(&dir, "preview.flv", 5));
    let t0 = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            while t0.elapsed() < Duration::from_secs(12) {
                let _ = rec.preview(320, Duration::from_secs(2));
                sleep(Duration::from_millis(500));
            }
        });
        for _ in 0..3 {
            sleep(Duration::from_secs(2));
            rec.pause();
            sleep(Duration::from_secs(1));
            rec.resume();
        }
        sleep(Duration::from_secs(2));
    });
    let summary = rec.stop().unwrap();
    check(&summary);
    assert_eq!(summary.stats.slices.len(), 2, "{:?}", summary.stats.slices);
}

#[test]
fn fifty_pauses_in_one_class_some_within_one_frame() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start(spec(&dir, "fifty.flv", 2));
    let mut rng = Rng(0x5eed_0050);
    for _ in 0..50 {
        sleep(Duration::from_millis(30 + rng.below(170)));
        rec.pause();
        // 0 ms and anything under 66 ms resume before the pause took effect.
        sleep(Duration::from_millis(rng.below(100)));
        rec.resume();
    }
    let summary = rec.stop().unwrap();
    check(&summary);
}

#[test]
fn racing_callers_sending_every_command_keep_timestamps_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let rec = start(spec(&dir, "race.flv", 1));
    let t0 = Instant::now();
    thread::scope(|s| {
        for seed in 1..=4u64 {
            let rec = &rec;
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
                while t0.elapsed() < Duration::from_secs(8) {
                    match rng.below(4) {
                        0 => rec.pause(),
                        1 => rec.resume(),
                        2 => {
                            let width = 16 + rng.below(640) as u32;
                            let _ = rec.preview(width, Duration::from_millis(500));
                        }
                        _ => {
                            let _ = rec.stats();
                        }
                    }
                    sleep(Duration::from_millis(rng.below(120)));
                }
            });
        }
    });
    let summary = rec.stop().unwrap();
    check(&summary);
}

#[test]
fn a_limit_records_exactly_the_frames_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&dir, "limit.flv", 1);
    spec.limit = Some(Duration::from_secs(2));
    let rec = start(spec);
    let t0 = Instant::now();
    while !rec.has_ended() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the limit ends it");
        sleep(Duration::from_millis(50));
    }
    let summary = rec.stop().unwrap();
    let video = check(&summary);
    let stats = &summary.stats;
    assert_eq!(stats.recorded, Duration::from_secs(2));
    // [0, 2 s) at 15 fps: 30 frame slots, no frame stamped 2.0 s, so no
    // third slice holding one frame.
    assert_eq!(stats.frames + stats.dropped, 30, "{stats:?}");
    assert!(*video.last().unwrap() < 2.0);
    assert_eq!(stats.slices.len(), 2, "{:?}", stats.slices);
}

#[test]
fn a_stop_right_after_start_leaves_nothing_broken() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..5 {
        let rec = start(spec(&dir, &format!("quick{n}.flv"), 1));
        if n % 2 == 1 {
            rec.pause();
            rec.resume();
        }
        let summary = rec.stop().unwrap();
        check(&summary);
    }
}
