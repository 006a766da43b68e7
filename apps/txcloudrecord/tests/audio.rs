//! Sound from a real sound server (PulseAudio, null sink) recorded with a real
//! window, checked by decoding: frequency, and when the tone starts on the
//! video timeline.
#![cfg(target_os = "linux")]

use crate::util;

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
    let svc = classroom_svc(&pulse, &x, &[]);
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

/// Amplitude of a sine of frequency `f` in `x`, in full-scale units (Goertzel).
fn goertzel(x: &[i16], f: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * f / 48_000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) / 32768.0 + coeff * s1 - s2;
        (s2, s1) = (s1, s0);
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power.sqrt() / x.len().max(1) as f64
}

/// Level of a tone near `hz` (±3 %: sound servers make a tone from a whole
/// number of samples per period) in `pcm[from..to]` (seconds from the first
/// sample), as dBFS of its peak: the strongest frequency of the band in each
/// 100 ms, averaged.
fn tone_db(pcm: &[i16], from: f64, to: f64, hz: f64) -> f64 {
    let a = ((from.max(0.0) * 48_000.0) as usize).min(pcm.len());
    let b = ((to * 48_000.0) as usize).min(pcm.len());
    let windows: Vec<f64> = pcm[a..b]
        .chunks_exact(4800)
        .map(|w| {
            let mut best: f64 = 0.0;
            let mut f = hz * 0.97;
            while f <= hz * 1.03 {
                best = best.max(goertzel(w, f));
                f += 4.0;
            }
            best
        })
        .collect();
    let mean = windows.iter().sum::<f64>() / windows.len().max(1) as f64;
    20.0 * mean.max(1e-12).log10()
}

/// When the `hz` tone first reaches `level_db - 6` (5 ms steps), seconds
/// from the first sample.
fn onset(pcm: &[i16], hz: f64, level_db: f64) -> f64 {
    let mut t = 0.0;
    while t * 48_000.0 < pcm.len() as f64 {
        let at = (t * 48_000.0) as usize;
        let w = &pcm[at..(at + 960).min(pcm.len())];
        let here = (-3..=3)
            .map(|k| goertzel(w, hz + f64::from(k) * 8.0))
            .fold(0.0, f64::max);
        if 20.0 * here.max(1e-12).log10() > level_db - 6.0 {
            return t;
        }
        t += 0.005;
    }
    panic!("no {hz} Hz tone in the recording");
}

/// The service recording X11 windows of `x`, its sound from `pulse`.
fn classroom_svc(pulse: &Pulse, x: &Xvfb, args: &[&str]) -> Svc {
    let env: Vec<(String, String)> = pulse
        .client_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.display().to_string()))
        .chain([("DISPLAY".to_owned(), x.display.clone())])
        .collect();
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut all = vec!["--capture", "x11"];
    all.extend_from_slice(args);
    Svc::start_env(&all, &env_ref)
}

fn source<'a>(st: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    st["Record"]["AudioSources"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["Name"] == name))
        .unwrap_or_else(|| panic!("no {name} source in {st}"))
}

/// The levels of the voice (441 Hz), the app (1 kHz) and the other program
/// (2.45 kHz) near the end of a recording.
fn three_tones(f: &std::path::Path) -> (f64, f64, f64) {
    let (pcm, _) = decode_audio(f);
    let end = pcm.len() as f64 / 48_000.0;
    let at = |hz| tone_db(&pcm, end - 1.5, end - 0.3, hz);
    (at(441.0), at(1000.0), at(2450.0))
}

/// A stock X client (xeyes) whose process tree plays a `hz` tone after
/// `delay` seconds (ffmpeg, started by the same process before it became
/// xeyes), writing the wall time it began to `<dir>/played`; the whole
/// process group is stopped when dropped.
struct SoundingApp(std::process::Child);

impl SoundingApp {
    fn start(display: &str, pulse: &Pulse, hz: u32, delay: f64) -> Self {
        use std::os::unix::process::CommandExt;
        let played = pulse.dir.path().join("played");
        let script = format!(
            "(sleep {delay}; date +%s.%N > {}; exec ffmpeg -nostdin -v error -re -f lavfi -i sine=frequency={hz}:sample_rate=48000 -f pulse -buffer_duration 20 -device rec_sink class) & exec xeyes",
            played.display()
        );
        let child = std::process::Command::new("sh")
            .args(["-c", &script])
            .env("DISPLAY", display)
            .envs(pulse.client_env())
            .process_group(0)
            .spawn()
            .unwrap();
        SoundingApp(child)
    }
}

impl Drop for SoundingApp {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        let _ = self.0.wait();
    }
}

/// StartRecord `body`, retried for a few seconds while the window is not
/// there yet.
fn start_when_ready(svc: &Svc, body: &str) {
    let t0 = Instant::now();
    loop {
        let r = svc.cmd("StartRecord", body);
        if r == json!({}) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{r}");
        sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_teachers_voice_and_the_class_apps_own_sound_are_mixed_at_their_level_and_moment() {
    let pulse = Pulse::start();
    pulse.classroom();
    let x = Xvfb::start(true);
    let svc = classroom_svc(&pulse, &x, &[]);
    svc.init("teacher");
    // The class app plays 1 kHz; an unrelated program plays 2.45 kHz on the same output.
    let _app = SoundingApp::start(&x.display, &pulse, 1000, 1.5);
    let other = pulse.sine("rec_sink", 2450);
    start_when_ready(
        &svc,
        r#"{"AppProc":"xeyes","DstPath":"mix.flv","ClassId":1,"SliceTime":60}"#,
    );
    let started = Instant::now();
    let started_wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    sleep(Duration::from_millis(2000));
    // The teacher starts speaking.
    let spoke_at = started.elapsed().as_secs_f64();
    let voice = pulse.sine("mic_sink", 441);
    sleep(Duration::from_millis(2500));
    let st = svc.state();
    let (mic, app) = (source(&st, "mic"), source(&st, "app"));
    assert_eq!(
        (&mic["State"], &app["State"]),
        (&json!("on"), &json!("on")),
        "{st}"
    );
    assert!(
        app["Device"]
            .as_str()
            .is_some_and(|d| d.contains("streams of process")),
        "{st}"
    );
    assert!(
        app.get("Note").is_none(),
        "the app's own sound, no fallback: {st}"
    );
    let (mic_peak, app_peak) = (
        mic["PeakDb"].as_f64().unwrap(),
        app["PeakDb"].as_f64().unwrap(),
    );
    svc.cmd("StopRecord", "");
    let f = slices(&svc.state()).pop().unwrap();
    assert_eq!(decode_errors(&f), "");
    let (pcm, first_pts) = decode_audio(&f);
    let end = pcm.len() as f64 / 48_000.0;

    let voice_db = tone_db(&pcm, end - 1.5, end - 0.3, 441.0);
    let app_db = tone_db(&pcm, end - 1.5, end - 0.3, 1000.0);
    let other_db = tone_db(&pcm, 0.5, end - 0.3, 2450.0);
    let before = tone_db(&pcm, 0.3, spoke_at - first_pts - 0.3, 441.0);
    eprintln!("recorded: voice {voice_db:.1} dBFS (source peak {mic_peak}), app {app_db:.1} (source peak {app_peak}), other program {other_db:.1}, voice before it spoke {before:.1}");
    assert!(
        (voice_db - mic_peak).abs() <= 3.0,
        "voice {voice_db:.1} dBFS, source {mic_peak}"
    );
    assert!(
        (app_db - app_peak).abs() <= 3.0,
        "app {app_db:.1} dBFS, source {app_peak}"
    );
    assert!(
        other_db < app_db - 30.0,
        "another program's sound is left out: {other_db:.1}"
    );
    assert!(
        before < voice_db - 30.0,
        "no voice before the teacher spoke"
    );
    let heard = first_pts + onset(&pcm, 440.0, voice_db);
    eprintln!("voice began at {spoke_at:.3}s, heard at {heard:.3}s on the video timeline");
    assert!(
        (heard - spoke_at).abs() < 0.04,
        "voice heard at {heard:.3}s, began at {spoke_at:.3}s"
    );
    let played: f64 = std::fs::read_to_string(pulse.dir.path().join("played"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let played_at = played - started_wall;
    let app_heard = first_pts + onset(&pcm, 1000.0, app_db);
    eprintln!("app tone began at {played_at:.3}s, heard at {app_heard:.3}s on the video timeline");
    // ffmpeg starts in some 0.1 s, and the server plays what it was given a
    // buffer (20 ms) later: never before it began, not long after.
    assert!(
        app_heard > played_at - 0.04 && app_heard < played_at + 1.0,
        "app tone heard at {app_heard:.3}s, began at {played_at:.3}s"
    );

    // Only the microphone.
    start_when_ready(
        &svc,
        r#"{"AppProc":"xeyes","DstPath":"mic.flv","ClassId":1,"AudioSources":["mic"]}"#,
    );
    sleep(Duration::from_millis(3000));
    let st = svc.state();
    assert_eq!(
        st["Record"]["AudioSources"].as_array().map(Vec::len),
        Some(1),
        "{st}"
    );
    svc.cmd("StopRecord", "");
    let (v, a, o) = three_tones(&slices(&svc.state()).pop().unwrap());
    eprintln!("mic only: voice {v:.1} dBFS, app {a:.1}, other {o:.1}");
    assert!(
        (v - mic_peak).abs() <= 3.0 && a < v - 30.0 && o < v - 30.0,
        "voice {v:.1}, app {a:.1}, other {o:.1}"
    );

    // The whole system output: both programs.
    start_when_ready(
        &svc,
        r#"{"AppProc":"xeyes","DstPath":"sys.flv","ClassId":1,"AudioSources":["system"]}"#,
    );
    sleep(Duration::from_millis(3000));
    svc.cmd("StopRecord", "");
    pulse.unload(&other);
    pulse.unload(&voice);
    let (v, a, o) = three_tones(&slices(&svc.state()).pop().unwrap());
    eprintln!("system only: voice {v:.1} dBFS, app {a:.1}, other {o:.1}");
    assert!(
        (a - app_peak).abs() <= 3.0 && o > a - 10.0 && v < a - 30.0,
        "voice {v:.1}, app {a:.1}, other {o:.1}"
    );

    // A list of something else is refused in the envelope.
    let r = svc.request(
        "POST",
        "/localrecord/v1/StartRecord",
        &[],
        r#"{"AppProc":"xeyes","ClassId":1,"AudioSources":["speakers"]}"#,
    );
    assert!(
        r.body.contains("-10000") && r.body.contains("speakers"),
        "{}",
        r.body
    );
}

/// Events of the service's stream, collected on a thread.
fn listen(port: u16) -> std::sync::mpsc::Receiver<txcr_client::Event> {
    let events = txcr_client::Client::new(port).events().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for e in events {
            // The stream ends with an error when the service stops.
            let Ok(e) = e else { return };
            if tx.send(e).is_err() {
                return;
            }
        }
    });
    rx
}

fn warnings(rx: &std::sync::mpsc::Receiver<txcr_client::Event>) -> Vec<String> {
    rx.try_iter()
        .filter_map(|e| match e {
            txcr_client::Event::Warning { message } => Some(message),
            _ => None,
        })
        .collect()
}

#[test]
fn a_microphone_unplugged_mid_class_comes_back_and_the_gap_is_silence() {
    let pulse = Pulse::start();
    let mic_sink = pulse.pactl(&["load-module", "module-null-sink", "sink_name=mic_sink"]);
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "320x240"]);
    let svc = classroom_svc(
        &pulse,
        &x,
        &[
            "--audio-device",
            "mic_sink.monitor",
            "--audio-sources",
            "mic",
        ],
    );
    svc.init("teacher");
    let events = listen(svc.port);
    let voice = pulse.sine("mic_sink", 441);
    // A sound server plays a new stream after its buffer: let it be heard first.
    sleep(Duration::from_millis(1500));
    let body = format!(
        r#"{{"Wnd":{},"DstPath":"unplug.flv","ClassId":1,"SliceTime":60}}"#,
        win.xid
    );
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    let started = Instant::now();
    sleep(Duration::from_millis(2500));
    let unplugged = started.elapsed().as_secs_f64();
    pulse.unload(&voice);
    pulse.unload(mic_sink.trim());
    sleep(Duration::from_millis(3500));
    let st = svc.state();
    assert_eq!(source(&st, "mic")["State"], "failed", "{st}");
    assert!(
        !st["Record"]["Warnings"].as_array().unwrap().is_empty(),
        "{st}"
    );
    let told = warnings(&events);
    assert!(
        told.iter().any(|w| w.contains("microphone")),
        "a warning event: {told:?}"
    );
    let back = started.elapsed().as_secs_f64();
    pulse.pactl(&["load-module", "module-null-sink", "sink_name=mic_sink"]);
    let _voice = pulse.sine("mic_sink", 441);
    sleep(Duration::from_millis(4000));
    let st = svc.state();
    assert_eq!(source(&st, "mic")["State"], "on", "{st}");
    assert_eq!(st["Record"]["Warnings"], json!([]), "{st}");
    assert_eq!(st["Record"]["State"], "Recording");
    svc.cmd("StopRecord", "");
    let f = slices(&svc.state()).pop().unwrap();
    assert_eq!(decode_errors(&f), "");
    let (pcm, first) = decode_audio(&f);
    let end = pcm.len() as f64 / 48_000.0;
    let before = tone_db(&pcm, 0.5, unplugged - first - 0.3, 441.0);
    let gap = tone_db(&pcm, unplugged - first + 0.3, back - first - 0.1, 441.0);
    let after = tone_db(&pcm, back - first + 2.0, end - 0.3, 441.0);
    eprintln!("before {before:.1} dBFS, in the gap {gap:.1}, after {after:.1}; recording {end:.2} s of sound");
    assert!(
        before > -20.0 && after > before - 3.0,
        "the tone before and after"
    );
    assert!(gap < before - 40.0, "silence in the gap: {gap:.1}");
    // The gap is silence of the right length: the sound after it is on time.
    assert!(
        (end + first - started.elapsed().as_secs_f64()).abs() < 1.0,
        "sound lasts the whole class"
    );
    // The longest run of silent 10 ms pieces after the first second.
    let (mut run, mut longest) = (0usize, 0usize);
    for c in pcm.chunks(480).skip(100) {
        run = if c.iter().all(|s| s.unsigned_abs() < 300) {
            run + 1
        } else {
            0
        };
        longest = longest.max(run);
    }
    let silent_for = longest as f64 / 100.0;
    eprintln!(
        "silent for {silent_for:.2} s (the microphone was away {:.2} s)",
        back - unplugged
    );
    assert!(
        silent_for >= back - unplugged - 0.2 && silent_for <= back - unplugged + 2.5,
        "silent {silent_for:.2} s"
    );
}

#[test]
fn a_silent_microphone_raises_a_warning_a_quiet_room_does_not() {
    let pulse = Pulse::start();
    pulse.classroom();
    let x = Xvfb::start(true);
    let win = TestWin::start(&x.display, &["--size", "320x240"]);
    let svc = classroom_svc(&pulse, &x, &["--audio-sources", "mic"]);
    svc.init("teacher");
    let events = listen(svc.port);
    // A quiet room: a tone 60 dB down.
    let room = pulse.sine("mic_sink", 300);
    let input = pulse.pactl(&["list", "short", "sink-inputs"]);
    let idx = input.split_whitespace().next().unwrap().to_owned();
    pulse.pactl(&["set-sink-input-volume", &idx, "0.001"]);
    let body = format!(
        r#"{{"Wnd":{},"DstPath":"quiet.flv","ClassId":1,"SliceTime":60}}"#,
        win.xid
    );
    assert_eq!(svc.cmd("StartRecord", &body), json!({}));
    sleep(Duration::from_secs(13));
    let st = svc.state();
    let peak = source(&st, "mic")["PeakDb"].as_i64().unwrap();
    eprintln!("quiet room: peak {peak} dBFS");
    assert!((-80..=-50).contains(&peak), "{st}");
    assert_eq!(st["Record"]["Warnings"], json!([]), "{st}");
    assert!(warnings(&events).is_empty());
    // Now the microphone delivers digital silence.
    pulse.unload(&room);
    let muted = Instant::now();
    let warned = loop {
        let st = svc.state();
        if source(&st, "mic")["State"] == "silent" {
            break st;
        }
        assert!(
            muted.elapsed() < Duration::from_secs(12),
            "no warning 12 s into silence: {st}"
        );
        sleep(Duration::from_millis(250));
    };
    eprintln!(
        "silence warned after {:.1} s",
        muted.elapsed().as_secs_f64()
    );
    assert!(
        warned["Record"]["Warnings"][0]
            .as_str()
            .unwrap()
            .contains("silence"),
        "{warned}"
    );
    sleep(Duration::from_millis(600));
    assert!(warnings(&events).iter().any(|w| w.contains("silence")));
    svc.cmd("StopRecord", "");
}
