//! The real pipeline (test pattern → x264 → slices) with a pause in the middle.

use std::thread::sleep;
use std::time::Duration;

use txcr_capture::{Region, TestPattern};
use txcr_recorder::{resolve_dst, Recording, RecordingSpec, SoundInput};

use crate::probe::{packet_times, video_frames};

#[test]
fn pause_leaves_no_gap_and_slices_continue_the_timeline() {
    let root = tempfile::tempdir().unwrap();
    let dst = resolve_dst(root.path(), "c.flv").unwrap();
    let src = TestPattern::new(320, 240, Region::default()).unwrap();
    let rec = Recording::start(Box::new(src), Vec::new(), RecordingSpec::new(dst, 20, 1)).unwrap();
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
        let video = video_frames(&s.path);
        for &(ts_ms, _) in &video {
            if let Some(prev) = last_ts {
                let step = ts_ms - prev;
                // 20 fps = 50 ms; a pause must not show up as a jump.
                assert!((1..=120).contains(&step), "gap of {step} ms at {ts_ms}");
            }
            last_ts = Some(ts_ms);
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

#[test]
fn sound_follows_the_video_through_pause_and_cuts() {
    use txcr_capture::audio::ToneSource;
    let root = tempfile::tempdir().unwrap();
    let dst = resolve_dst(root.path(), "av.flv").unwrap();
    let src = TestPattern::new(320, 240, Region::default()).unwrap();
    let tone = Box::new(ToneSource::new(440.0));
    let rec = Recording::start(
        Box::new(src),
        vec![SoundInput::new("tone", tone)],
        RecordingSpec::new(dst, 15, 2),
    )
    .unwrap();
    assert!(
        rec.stats().audio.to_string().starts_with("on: test tone"),
        "{}",
        rec.stats().audio
    );
    sleep(Duration::from_millis(2500));
    rec.pause();
    sleep(Duration::from_millis(1000));
    rec.resume();
    sleep(Duration::from_millis(2000));
    let summary = rec.stop().unwrap();
    let slices = &summary.stats.slices;
    assert_eq!(slices.len(), 3, "{slices:?}");

    let mut audio_all: Vec<f64> = vec![];
    let mut video_all: Vec<f64> = vec![];
    for (i, s) in slices.iter().enumerate() {
        let a = packet_times(&s.path, "a:0");
        let v = packet_times(&s.path, "v:0");
        assert!(!a.is_empty() && !v.is_empty(), "slice {i} has both streams");
        let start = s.info.start_ms as f64 / 1000.0;
        let end = s.info.end_ms as f64 / 1000.0;
        // Audio that plays with this slice's video is in this slice (one AAC
        // frame of slack at each edge).
        assert!(
            a[0] >= start - 0.03 && a[0] < start + 0.05,
            "slice {i} audio starts at {} (video {start})",
            a[0]
        );
        assert!(
            *a.last().unwrap() < end,
            "slice {i} audio ends before the next slice"
        );
        audio_all.extend(a);
        video_all.extend(v);
    }
    // Continuous: AAC frames are 21.3 ms; no hole at the pause or the cuts.
    for w in audio_all.windows(2) {
        let step = w[1] - w[0];
        assert!(
            step > 0.0 && step < 0.045,
            "audio step {step:.3}s at {:.3}s",
            w[0]
        );
    }
    let audio_end = audio_all.last().unwrap() + 1024.0 / 48_000.0;
    let video_end = video_all.last().unwrap() + 1.0 / 15.0;
    assert!(
        (audio_end - video_end).abs() < 0.1,
        "audio ends {audio_end:.3}s, video {video_end:.3}s"
    );
    assert!(
        (audio_all[0] - video_all[0]).abs() < 0.03,
        "both start together"
    );

    // The tone survives: decode slice 2 (it holds the pause) and count crossings.
    let pcm = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&slices[1].path)
        .args([
            "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ])
        .output()
        .unwrap();
    assert!(
        pcm.status.success() && pcm.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&pcm.stderr)
    );
    let s: Vec<i16> = pcm
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mid = &s[4800..s.len() - 4800];
    let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let hz = crossings as f64 / 2.0 / (mid.len() as f64 / 48_000.0);
    assert!((hz - 440.0).abs() < 5.0, "tone at {hz:.1} Hz");
}

#[test]
fn a_preview_shows_the_current_picture_while_recording_and_while_paused() {
    let root = tempfile::tempdir().unwrap();
    let dst = resolve_dst(root.path(), "p.flv").unwrap();
    let src = TestPattern::new(640, 360, Region::default()).unwrap();
    let rec = Recording::start(Box::new(src), Vec::new(), RecordingSpec::new(dst, 10, 60)).unwrap();
    sleep(Duration::from_millis(300));
    let first = rec.preview(160, Duration::from_secs(2)).unwrap();
    assert_eq!((first.width, first.height), (160, 90));
    assert!(first.png.starts_with(b"\x89PNG\r\n\x1a\n"));
    sleep(Duration::from_millis(500));
    let later = rec.preview(4000, Duration::from_secs(2)).unwrap();
    assert_eq!((later.width, later.height), (640, 360), "never scaled up");
    assert!(
        later.pts > first.pts,
        "{:?} then {:?}",
        first.pts,
        later.pts
    );
    rec.pause();
    sleep(Duration::from_millis(300));
    let paused = rec.preview(320, Duration::from_secs(2)).unwrap();
    assert_eq!((paused.width, paused.height), (320, 180));
    assert!(paused.pts >= later.pts);
    let frames = rec.stats().frames;
    sleep(Duration::from_millis(300));
    assert_eq!(
        rec.stats().frames,
        frames,
        "a paused preview records nothing"
    );
    rec.resume();
    let summary = rec.stop().unwrap();
    assert!(summary.stats.failure.is_none());
}
