//! The real pipeline (test pattern → x264 → slices) with a pause in the middle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::thread::sleep;
use std::time::Duration;

use txcr_capture::{Region, TestPattern};
use txcr_mux::FlvReader;
use txcr_recorder::{resolve_dst, Recording, RecordingSpec};

#[test]
fn pause_leaves_no_gap_and_slices_continue_the_timeline() {
    let root = tempfile::tempdir().unwrap();
    let dst = resolve_dst(root.path(), "c.flv").unwrap();
    let src = TestPattern::new(320, 240, Region::default()).unwrap();
    let rec = Recording::start(Box::new(src), RecordingSpec::new(dst, 20, 1)).unwrap();
    sleep(Duration::from_millis(1300));
    rec.pause();
    sleep(Duration::from_millis(1000));
    let paused_at = rec.stats().recorded;
    sleep(Duration::from_millis(300));
    assert_eq!(
        rec.stats().recorded,
        paused_at,
        "the clock stands still while paused"
    );
    rec.resume();
    sleep(Duration::from_millis(1300));
    let summary = rec.stop().unwrap();
    let recorded = summary.stats.recorded.as_millis() as i64;
    assert!((2400..3000).contains(&recorded), "recorded {recorded} ms");

    let mut last_ts = None;
    let mut total_ms = 0;
    for s in &summary.stats.slices {
        let bytes = std::fs::read(&s.path).unwrap();
        let video: Vec<_> = FlvReader::new(&bytes)
            .unwrap()
            .filter(|t| t.tag_type == 9 && t.body[1] == 1)
            .collect();
        assert!(
            video[0].is_keyframe(),
            "{} starts with a keyframe",
            s.path.display()
        );
        for t in &video {
            if let Some(prev) = last_ts {
                let step = t.ts_ms - prev;
                // 20 fps = 50 ms; a pause must not show up as a jump.
                assert!((1..=120).contains(&step), "gap of {step} ms at {}", t.ts_ms);
            }
            last_ts = Some(t.ts_ms);
        }
        total_ms += s.info.duration_ms();
    }
    assert_eq!(summary.stats.slices.len(), 3, "{:?}", summary.stats.slices);
    assert!(
        (total_ms as i64 - recorded).abs() <= 100,
        "slices {total_ms} ms vs recorded {recorded} ms"
    );
    assert!(
        summary.stats.frames >= 45,
        "frames {}",
        summary.stats.frames
    );
}
