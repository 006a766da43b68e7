//! Real recordings through the HTTP API, checked with ffprobe/ffmpeg.

use crate::util;

use std::thread::sleep;
use std::time::Duration;

use util::*;

#[test]
fn twelve_seconds_with_a_pause_give_three_playable_continuous_slices() {
    let svc = Svc::start();
    svc.init("teacher");
    let r = svc.cmd(
        "StartRecord",
        r#"{"AppProc":"demo","DstPath":"class.flv","x":320,"y":180,"Width":640,"Height":360,"VideoFps":15,"SliceTime":5,"ClassId":42,"EnableUpload":false,"EnableAudio":false}"#,
    );
    assert_eq!(r, serde_json::json!({}));
    sleep(Duration::from_millis(6000));
    assert_eq!(svc.cmd("PauseRecord", ""), serde_json::json!({}));
    let paused = svc.state();
    assert_eq!(paused["Record"]["State"], "Paused");
    sleep(Duration::from_millis(3000));
    let still = svc.state();
    assert_eq!(
        still["Record"]["Duration"], paused["Record"]["Duration"],
        "paused time is not counted"
    );
    assert_eq!(svc.cmd("ResumeRecord", ""), serde_json::json!({}));
    sleep(Duration::from_millis(6200));
    let before_stop = svc.state();
    assert_eq!(before_stop["Record"]["State"], "Recording");
    let duration = before_stop["Record"]["Duration"].as_u64().unwrap();
    assert!((11..=13).contains(&duration), "Duration {duration}");
    assert_eq!(svc.cmd("StopRecord", ""), serde_json::json!({}));
    let st = svc.state();
    assert_eq!(st["Record"]["State"], "Idle");

    let files = slices(&st);
    assert_eq!(files.len(), 3, "{files:?}");
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["class_0001.flv", "class_0002.flv", "class_0003.flv"]
    );
    let mut all: Vec<f64> = vec![];
    let mut durations = vec![];
    for f in &files {
        assert!(f.starts_with(&svc.root));
        assert_eq!(decode_errors(f), "", "{} decodes cleanly", f.display());
        assert_eq!(probe_stream(f), ("h264".into(), 640, 360));
        let packets = probe_packets(f);
        assert!(packets[0].1, "{} starts with a keyframe", f.display());
        durations.push(packets.last().unwrap().0 - packets[0].0 + 1.0 / 15.0);
        all.extend(packets.iter().map(|p| p.0));
    }
    // Timestamps continue across slices, strictly increasing, with no gap at the
    // pause or at a cut (a gap would be > 1.5 frames at 15 fps). A frame the
    // pipeline dropped under load leaves a gap too, but is counted in
    // DroppedFrames: only gaps beyond what was counted fail.
    let dropped = st["Record"]["DroppedFrames"].as_u64().unwrap();
    let mut missing = 0;
    for w in all.windows(2) {
        let step = w[1] - w[0];
        assert!(step > 0.0, "time goes back at {:.3}s", w[0]);
        if step >= 1.5 / 15.0 {
            missing += (step * 15.0).round() as u64 - 1;
            assert!(
                missing <= dropped,
                "step {step:.3}s at {:.3}s, {dropped} frames counted as dropped",
                w[0]
            );
        }
    }
    let recorded = all.last().unwrap() - all[0] + 1.0 / 15.0;
    assert!(
        (recorded - duration as f64).abs() < 1.2,
        "recorded {recorded:.2}s vs Duration {duration}"
    );
    let fps = all.len() as f64 / recorded;
    assert!((fps - 15.0).abs() <= 0.75, "fps {fps:.2}");
    // Cut at forced keyframes: the first two slices are 5 s within one frame.
    for d in &durations[..2] {
        assert!((d - 5.0).abs() <= 1.0 / 15.0 + 0.01, "slice of {d:.3}s");
    }
    // Every frame shows its own moment: the picture drawn at capture time
    // carries the same timestamp the container gives it (no frozen run at the
    // pause, no frame shown twice).
    for f in &files {
        let pts: Vec<u64> = probe_packets(f)
            .iter()
            .map(|p| (p.0 * 1000.0).round() as u64)
            .collect();
        let shown = decoded_stamps(f, 640, 360);
        assert_eq!(shown, pts, "{}", f.display());
    }
    let sum: f64 = durations.iter().sum();
    assert!(
        (sum - recorded).abs() <= 3.0 / 15.0,
        "slices sum {sum:.3}s vs {recorded:.3}s"
    );
}

#[test]
fn exit_finishes_the_running_recording_before_leaving() {
    let mut svc = Svc::start();
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"DstPath":"exit.flv","Width":320,"Height":240,"SliceTime":60,"ClassId":1}"#,
    );
    sleep(Duration::from_millis(2500));
    assert_eq!(svc.cmd("Exit", ""), serde_json::json!({}));
    let status = svc
        .wait_exit(Duration::from_secs(10))
        .expect("Exit stops the process");
    assert!(status.success());
    let f = svc.root.join("exit_0001.flv");
    assert_eq!(decode_errors(&f), "");
    let packets = probe_packets(&f);
    assert!(packets.len() >= 25, "{} frames", packets.len());
}

#[test]
fn default_dst_path_lands_under_the_root_by_class() {
    let svc = Svc::start();
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":160,"Height":120,"ClassId":77}"#,
    );
    sleep(Duration::from_millis(1200));
    svc.cmd("StopRecord", "");
    let files = slices(&svc.state());
    assert_eq!(files.len(), 1);
    assert!(files[0].starts_with(svc.root.join("77")), "{files:?}");
    assert_eq!(decode_errors(&files[0]), "");
}

#[test]
fn a_class_with_a_break_decodes_at_its_frame_rate_every_time() {
    // The simplest class with a break, default settings: 2 s, a 2 s pause, 2 s.
    let svc = Svc::start();
    svc.init("teacher");
    for n in 0..2 {
        let body = format!(r#"{{"Wnd":1,"DstPath":"break{n}.flv","ClassId":1}}"#);
        assert_eq!(svc.cmd("StartRecord", &body), serde_json::json!({}));
        sleep(Duration::from_secs(2));
        svc.cmd("PauseRecord", "");
        sleep(Duration::from_secs(2));
        svc.cmd("ResumeRecord", "");
        sleep(Duration::from_secs(2));
        svc.cmd("StopRecord", "");
        let files = slices(&svc.state());
        assert_eq!(files.len(), 1, "{files:?}");
        assert_clean_and_increasing(&files);
    }
}

#[test]
fn previews_and_breaks_as_the_example_page_makes_them_change_nothing_recorded() {
    // A preview every 0.5 s while the teacher pauses 1 s every 3 s.
    let svc = Svc::start();
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"DstPath":"page.flv","Width":640,"Height":360,"VideoFps":15,"SliceTime":5,"ClassId":2,"EnableUpload":false}"#,
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let r = svc.cmd("GetPreview", r#"{"MaxWidth":320}"#);
                assert!(r["Image"].is_string() || error_code(&r).is_some(), "{r}");
                sleep(Duration::from_millis(500));
            }
        });
        for _ in 0..5 {
            sleep(Duration::from_secs(2));
            svc.cmd("PauseRecord", "");
            sleep(Duration::from_secs(1));
            svc.cmd("ResumeRecord", "");
        }
        sleep(Duration::from_secs(3));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    svc.cmd("StopRecord", "");
    let files = slices(&svc.state());
    assert_eq!(files.len(), 3, "13 s recorded in 5 s slices: {files:?}");
    assert_clean_and_increasing(&files);
}

#[test]
fn racing_clients_sending_every_command_leave_only_clean_slices() {
    let svc = Svc::start();
    svc.init("teacher");
    let t0 = std::time::Instant::now();
    std::thread::scope(|s| {
        for seed in 1..=16u64 {
            let svc = &svc;
            s.spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15 ^ seed;
                let mut below = |n: u64| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % n
                };
                while t0.elapsed() < Duration::from_secs(15) {
                    let slice = 1 + below(3);
                    let start = format!(
                        r#"{{"Wnd":1,"Width":320,"Height":180,"SliceTime":{slice},"ClassId":3,"EnableUpload":false}}"#
                    );
                    let (cmd, body) = match below(6) {
                        0 => ("StartRecord", start.as_str()),
                        1 => ("StopRecord", ""),
                        2 => ("PauseRecord", ""),
                        3 => ("ResumeRecord", ""),
                        4 => ("GetPreview", r#"{"MaxWidth":160}"#),
                        _ => ("GetState", ""),
                    };
                    svc.cmd(cmd, body);
                    sleep(Duration::from_millis(below(200)));
                }
            });
        }
    });
    svc.cmd("StopRecord", "");
    let files = flv_files(&svc.root);
    assert!(files.len() >= 3, "the race recorded something: {files:?}");
    assert_clean_and_increasing(&files);
}

#[test]
fn get_state_answers_at_once_while_a_preview_waits_for_its_frame() {
    // At one frame a second a GetPreview waits up to a second for the next
    // frame. GetState must not wait with it: it answers from the state the
    // last command left. (When it waited for the session, it answered only
    // once the preview was made, a few ms before the preview's own answer.)
    let svc = Svc::start();
    svc.init("teacher");
    svc.cmd(
        "StartRecord",
        r#"{"Wnd":1,"Width":320,"Height":180,"VideoFps":1,"SliceTime":60,"ClassId":4,"EnableUpload":false,"EnableAudio":false}"#,
    );
    let mut ahead = Vec::new();
    for _ in 0..5 {
        let (state_at, preview_at) = std::thread::scope(|s| {
            let preview = s.spawn(|| {
                let r = svc.cmd("GetPreview", r#"{"MaxWidth":64}"#);
                assert!(r["Image"].is_string(), "{r}");
                std::time::Instant::now()
            });
            sleep(Duration::from_millis(50));
            let st = svc.state();
            let state_at = std::time::Instant::now();
            assert_eq!(st["Record"]["State"], "Recording", "{st}");
            (state_at, preview.join().expect("preview thread"))
        });
        ahead.push(preview_at.saturating_duration_since(state_at));
    }
    svc.cmd("StopRecord", "");
    // A preview comes at a uniformly random point of the next second: in
    // five tries, at least one comes well after the GetState it overlapped.
    assert!(
        ahead.iter().any(|d| *d > Duration::from_millis(200)),
        "GetState waited for the preview every time: {ahead:?}"
    );
}
