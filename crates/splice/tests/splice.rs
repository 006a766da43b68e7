//! Real slices from the recorder (test pattern + tone, with a pause and two
//! cuts) spliced into one MP4 and checked by ffprobe/ffmpeg.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use txcr_capture::audio::ToneSource;
use txcr_capture::{Region, TestPattern};
use txcr_recorder::{resolve_dst, Recording, RecordingSpec, SoundInput};
use txcr_splice::{
    init_segment, media_segment, moof_len, segment_duration_ms, splice_to_file, ChapterMark,
    SpliceError,
};

fn record(root: &Path) -> Vec<PathBuf> {
    let dst = resolve_dst(root, "class.flv").unwrap();
    let src = TestPattern::new(320, 240, Region::default()).unwrap();
    let tone = Box::new(ToneSource::new(440.0));
    let rec = Recording::start(
        Box::new(src),
        vec![SoundInput::new("tone", tone)],
        RecordingSpec::new(dst, 15, 2),
    )
    .unwrap();
    sleep(Duration::from_millis(2500));
    rec.pause();
    sleep(Duration::from_millis(700));
    rec.resume();
    sleep(Duration::from_millis(2300));
    let summary = rec.stop().unwrap();
    summary
        .stats
        .slices
        .iter()
        .map(|s| s.path.clone())
        .collect()
}

fn probe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe is installed (cargo xtask setup)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Packet pts (s) of one stream.
fn pts(path: &Path, stream: &str) -> Vec<f64> {
    probe(
        path,
        &[
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter_map(|l| l.trim().parse().ok())
    .collect()
}

fn duration(path: &Path) -> f64 {
    probe(
        path,
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    )
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn slices_become_one_faststart_mp4_with_every_frame_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let slices = record(dir.path());
    assert_eq!(slices.len(), 3, "{slices:?}");
    let out = dir.path().join("class.mp4");
    let chapters = [
        ChapterMark {
            start_ms: 3500,
            title: "Zweite Übung",
        },
        ChapterMark {
            start_ms: 1000,
            title: "Start of topic",
        },
        ChapterMark {
            start_ms: 99_000,
            title: "after the end",
        },
    ];
    let report = splice_to_file(&slices, &chapters, &out).unwrap();

    // moov before mdat.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(report.bytes, bytes.len() as u64);
    let ftyp_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(&bytes[ftyp_len + 4..ftyp_len + 8], b"moov", "faststart");

    let streams = probe(
        &out,
        &[
            "-show_entries",
            "stream=codec_type,codec_name,sample_rate,channels,width,height",
            "-of",
            "csv=p=0",
        ],
    );
    assert!(streams.contains("h264,video,320,240"), "{streams}");
    assert!(streams.contains("aac,audio,48000,2"), "{streams}");
    assert_eq!((report.width, report.height), (320, 240));

    // Every video frame of every slice, at the same time (rebased to zero).
    let mut want: Vec<f64> = slices.iter().flat_map(|s| pts(s, "v:0")).collect();
    let t0 = want[0];
    want.iter_mut().for_each(|t| *t -= t0);
    let got = pts(&out, "v:0");
    assert_eq!(got.len(), want.len(), "every frame is there");
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 0.0015, "frame at {w:.3}s is at {g:.3}s");
    }
    // Audio: every frame, continuous (AAC frames 21.3 ms; no hole at the cuts).
    let audio = pts(&out, "a:0");
    let want_audio: usize = slices.iter().map(|s| pts(s, "a:0").len()).sum();
    assert_eq!(audio.len(), want_audio);
    for w in audio.windows(2) {
        assert!(
            w[1] - w[0] > 0.0 && w[1] - w[0] < 0.045,
            "audio step at {}",
            w[0]
        );
    }

    // Duration: the slices' sum, within one frame per slice.
    let sum: f64 = slices.iter().map(|s| duration(s)).sum();
    let d = duration(&out);
    assert!(
        (d - sum).abs() < 3.0 / 15.0,
        "mp4 {d:.3}s, slices {sum:.3}s"
    );
    assert!((report.duration_ms as f64 / 1000.0 - d).abs() < 0.05);

    // The chapters, in time order, where they were marked (the recording
    // starts at 0); the one past the end is left out.
    let listed = probe(
        &out,
        &[
            "-show_entries",
            "chapter=start_time:chapter_tags=title",
            "-of",
            "csv=p=0",
        ],
    );
    let listed: Vec<(f64, &str)> = listed
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(t, title)| (t.parse().unwrap(), title))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for ((t, title), (want_t, want_title)) in listed
        .iter()
        .zip([(1.0, "Start of topic"), (3.5, "Zweite Übung")])
    {
        assert!((t - (want_t - t0)).abs() < 0.002, "{title} at {t}");
        assert_eq!(*title, want_title);
    }

    // Decodes without a single error.
    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(decode.status.success());
    assert!(
        decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );
}

/// `ffmpeg` decodes `path` without a single error message.
fn decodes_cleanly(path: &Path) {
    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(decode.status.success(), "{}", path.display());
    assert!(
        decode.stderr.is_empty(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&decode.stderr)
    );
}

#[test]
fn each_slice_becomes_a_live_segment_that_continues_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let slices = record(dir.path());
    assert_eq!(slices.len(), 3, "{slices:?}");
    let init = init_segment(&slices[0]).unwrap();
    let mut all = init.clone();
    let mut total_ms = 0;
    let mut last_end: Option<f64> = None;
    for (i, slice) in slices.iter().enumerate() {
        let seg = media_segment(slice, i as u32 + 1).unwrap();
        assert_eq!(&seg.bytes[4..8], b"moof");
        // Its length reads back from its moof alone (a restarted backend
        // lists stored segments without making them again).
        let moof = moof_len(&seg.bytes).unwrap() as usize;
        assert!(moof < seg.bytes.len());
        assert_eq!(
            segment_duration_ms(&seg.bytes[..moof]).unwrap(),
            seg.duration_ms
        );
        assert!(segment_duration_ms(&seg.bytes[..moof - 1]).is_err());
        assert!(segment_duration_ms(&init).is_err());
        // Played after the init segment alone, a segment is its slice: the
        // same frames at the same (recording) times.
        let one = dir.path().join(format!("seg{i}.mp4"));
        std::fs::write(&one, [&init[..], &seg.bytes[..]].concat()).unwrap();
        decodes_cleanly(&one);
        let (got, want) = (pts(&one, "v:0"), pts(slice, "v:0"));
        assert_eq!(got.len(), want.len(), "slice {}", i + 1);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 0.0015, "frame at {w:.3}s is at {g:.3}s");
        }
        assert_eq!(pts(&one, "a:0").len(), pts(slice, "a:0").len());
        // No gap: it starts within a frame of where the one before ended.
        if let Some(end) = last_end {
            assert!(
                (got[0] - end).abs() < 1.5 / 15.0,
                "slice {} starts at {:.3}s, the one before ended at {end:.3}s",
                i + 1,
                got[0]
            );
        }
        last_end = Some((seg.start_ms as u64 + seg.duration_ms) as f64 / 1000.0);
        total_ms += seg.duration_ms;
        all.extend(&seg.bytes);
    }
    let whole = dir.path().join("all.mp4");
    std::fs::write(&whole, &all).unwrap();
    decodes_cleanly(&whole);
    let want_frames: usize = slices.iter().map(|s| pts(s, "v:0").len()).sum();
    assert_eq!(pts(&whole, "v:0").len(), want_frames);
    // The playlist's length is the MP4's, within a frame per slice.
    let report = splice_to_file(&slices, &[], &dir.path().join("class.mp4")).unwrap();
    let diff = total_ms.abs_diff(report.duration_ms);
    assert!(
        diff <= 3 * 67,
        "segments {total_ms} ms, mp4 {} ms",
        report.duration_ms
    );
}

#[test]
fn a_torn_slice_is_reported_by_number_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let slices = record(dir.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&slices[1])
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 100).unwrap();
    let err = splice_to_file(&slices, &[], &dir.path().join("x.mp4")).unwrap_err();
    assert!(
        matches!(err, SpliceError::CorruptSlice { slice: 2, .. }),
        "{err}"
    );
    assert!(!dir.path().join("x.mp4").exists(), "no half-written output");

    let mut missing = slices.clone();
    missing[1] = dir.path().join("gone.flv");
    let err = splice_to_file(&missing, &[], &dir.path().join("y.mp4")).unwrap_err();
    assert!(matches!(err, SpliceError::Io { .. }), "{err}");
}
