//! Sound from a real sound server (PulseAudio, null sink) recorded with a real
//! window, checked by decoding: frequency, and when the tone starts on the
//! video timeline.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod util;

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::json;
use util::pulse::Pulse;
use util::x11::{TestWin, Xvfb};
use util::*;

/// Decoded mono PCM at 48 kHz of the first audio stream, and its first pts.
fn decode_audio(path: &std::path::Path) -> (Vec<i16>, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pcm = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let first = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            "-read_intervals",
            "%+#1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&first.stdout)
        .trim()
        .parse()
        .unwrap();
    (pcm, first)
}

#[test]
fn a_tone_played_mid_class_is_recorded_at_its_moment_and_pitch() {
    let pulse = Pulse::start();
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "320x240"]);
    let env: Vec<(String, String)> = pulse
        .client_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .chain([("DISPLAY".to_owned(), x.display.clone())])
        .collect();
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let svc = Svc::start_env(&["--capture", "x11"], &env_ref);
    svc.init("teacher");
    let body = format!(
        r#"{{"Wnd":{},"DstPath":"snd.flv","ClassId":1,"SliceTime":60}}"#,
        win.xid
    );
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    let started = Instant::now();
    let audio = svc.state()["Record"]["Audio"].as_str().unwrap().to_owned();
    assert!(audio.starts_with("on:"), "{audio}");
    sleep(Duration::from_millis(3000));
    let played_at = started.elapsed().as_secs_f64();
    pulse.pactl(&[
        "load-module",
        "module-sine",
        "sink=rec_sink",
        "frequency=880",
    ]);
    sleep(Duration::from_millis(2000));
    svc.cmd("StopRecord", "");
    let f = slices(&svc.state()).pop().unwrap();
    assert_eq!(decode_errors(&f), "");

    let (pcm, first_pts) = decode_audio(&f);
    let onset = pcm
        .iter()
        .position(|s| s.unsigned_abs() > 3000)
        .expect("the tone is in the recording");
    let onset_s = first_pts + onset as f64 / 48_000.0;
    // On the video timeline (0 = StartRecord), the tone begins when pactl
    // started it: allow for pactl, the server's buffering and the request's
    // round trip.
    eprintln!("tone played at {played_at:.3}s, heard at {onset_s:.3}s on the video timeline");
    assert!(
        (onset_s - played_at).abs() < 0.25,
        "tone heard at {onset_s:.3}s, played at {played_at:.3}s"
    );
    let after = &pcm[onset + 4800..pcm.len().min(onset + 4800 + 48_000)];
    let crossings = after
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let hz = crossings as f64 / 2.0 / (after.len() as f64 / 48_000.0);
    eprintln!("880 Hz tone recorded at {hz:.1} Hz");
    assert!((hz - 880.0).abs() < 8.0, "recorded at {hz:.1} Hz");
}

#[test]
fn without_a_sound_device_the_class_is_recorded_without_sound() {
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "320x240"]);
    let nowhere = tempfile::tempdir().unwrap();
    let run = nowhere.path().display().to_string();
    let svc = Svc::start_env(
        &["--capture", "x11"],
        &[
            ("DISPLAY", &x.display),
            ("XDG_RUNTIME_DIR", &run),
            ("PULSE_SERVER", "unix:/nonexistent"),
        ],
    );
    svc.init("teacher");
    let body = format!(r#"{{"Wnd":{},"DstPath":"mute.flv","ClassId":1}}"#, win.xid);
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    sleep(Duration::from_millis(1500));
    let st = svc.state();
    assert!(
        st["Record"]["Audio"]
            .as_str()
            .unwrap()
            .starts_with("unavailable"),
        "{st}"
    );
    assert_eq!(st["Record"]["State"], "Recording");
    svc.cmd("StopRecord", "");
    let f = slices(&svc.state()).pop().unwrap();
    assert_eq!(decode_errors(&f), "");
    assert!(probe_packets(&f).len() >= 15, "video recorded");
}
