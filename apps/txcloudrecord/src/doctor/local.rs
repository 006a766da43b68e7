//! Checks of this machine: port, display, compositor, sound, disk.

use std::time::Duration;

use super::{Finding, Level};
use crate::config::{CaptureMode, Config};

/// The service's port: free, or already ours.
pub fn port(cfg: &Config) -> Finding {
    let p = cfg.port;
    if p == 0 {
        return Finding::new("port", Level::Ok, "any free port (--port 0)");
    }
    match std::net::TcpListener::bind(("127.0.0.1", p)) {
        Ok(_) => Finding::new("port", Level::Ok, format!("127.0.0.1:{p} is free")),
        Err(_) if crate::instance::is_ours(p) => Finding::new(
            "port",
            Level::Ok,
            format!("txcloudrecord is already serving 127.0.0.1:{p}"),
        ),
        Err(e) => Finding::new(
            "port",
            Level::Fail,
            format!("127.0.0.1:{p} is taken by another program ({e}): the classroom app cannot reach us"),
        )
        .fix(format!("stop the program on port {p} (`ss -ltnp 'sport = :{p}'` shows it)")),
    }
}

/// The display, and whether covered windows can be recorded.
pub fn display(cfg: &Config) -> Vec<Finding> {
    match cfg.capture {
        CaptureMode::TestPattern => vec![Finding::new(
            "display",
            Level::Ok,
            "test pattern: no display needed",
        )],
        CaptureMode::Windows => vec![Finding::new(
            "display",
            if cfg!(windows) {
                Level::Ok
            } else {
                Level::Fail
            },
            "Windows Graphics Capture (Windows 10 1903 or later)",
        )],
        CaptureMode::X11 | CaptureMode::Auto => x11(cfg),
    }
}

#[cfg(target_os = "linux")]
fn x11(cfg: &Config) -> Vec<Finding> {
    let report = match txcr_capture::x11::probe(None) {
        Ok(r) => r,
        Err(e) => {
            return vec![Finding::new("display", Level::Fail, format!("{e}: no window can be recorded"))
                .fix("run txcloudrecord inside the desktop session (DISPLAY=:0), or give it a virtual display (Xvfb) for a headless machine")]
        }
    };
    let mut shown = format!(
        "X11 display {}, {}x{}",
        report.name, report.size.0, report.size.1
    );
    let display = if report.shm {
        shown.push_str(", MIT-SHM");
        Finding::new("display", Level::Ok, shown)
    } else {
        Finding::new(
            "display",
            Level::Warn,
            format!("{shown}, no MIT-SHM: every frame goes through the X socket (more CPU)"),
        )
        .fix("use a local X server with the MIT-SHM extension (not ssh -X forwarding)")
    };
    let compositor = match (report.composite, cfg.window.screen_fallback) {
        (Some((major, minor)), _) => Finding::new(
            "compositor",
            Level::Ok,
            format!("Composite {major}.{minor}: covered windows still record their own content"),
        ),
        (None, true) => Finding::new(
            "compositor",
            Level::Warn,
            "no Composite extension: with screen_fallback the screen area is recorded, including whatever covers the window",
        )
        .fix("enable Composite in the X server (Xorg: Section \"Extensions\" Option \"Composite\" \"Enable\")"),
        (None, false) => Finding::new(
            "compositor",
            Level::Fail,
            "no Composite extension: StartRecord answers -10004",
        )
        .fix("enable Composite in the X server (Xorg: Section \"Extensions\" Option \"Composite\" \"Enable\"), or set screen_fallback = true to record the screen area"),
    };
    vec![display, compositor]
}

#[cfg(not(target_os = "linux"))]
fn x11(_cfg: &Config) -> Vec<Finding> {
    vec![Finding::new(
        "display",
        Level::Ok,
        "the platform's window capture",
    )]
}

/// The sound device: found, and delivering sound.
pub fn audio(cfg: &Config) -> Finding {
    use std::sync::atomic::AtomicU64;
    use std::sync::{mpsc, Arc};
    use txcr_capture::audio::{self, BlockSink, SoundOf};

    if cfg.capture == CaptureMode::TestPattern {
        return Finding::new("audio", Level::Ok, "test pattern: a 440 Hz test tone");
    }
    let wanted = cfg.audio_device.as_deref();
    let mut src = audio::open(SoundOf::Mic, wanted).source;
    let described = src.describe();
    let (tx, rx) = mpsc::sync_channel(64);
    if let Err(e) = src.start(BlockSink::new(tx, Arc::new(AtomicU64::new(0)))) {
        let (level, fix) = match wanted {
            Some(name) => (Level::Fail, format!("no microphone {name:?} could be opened: pick another with --audio-device (a name shown by `pactl list short sources`, or part of one shown in the Sound settings)")),
            None => (Level::Warn, "connect a microphone or start the sound server (PulseAudio/PipeWire), and check that no other program holds the device exclusively".to_owned()),
        };
        return Finding::new(
            "audio",
            level,
            format!("{e}: classes are recorded without sound from the microphone"),
        )
        .fix(fix);
    }
    // Some sound servers take a moment to deliver the first block.
    let heard = rx.recv_timeout(Duration::from_secs(5)).is_ok();
    drop(src);
    if heard {
        Finding::new("audio", Level::Ok, format!("{described}: sound arrives"))
    } else {
        Finding::new(
            "audio",
            Level::Warn,
            format!("{described} delivered no sound in 5 s"),
        )
        .fix("check the device is not muted or suspended, or choose another with --audio-device")
    }
}

/// The recording disk: writable, and room for classes.
pub fn disk(cfg: &Config) -> Finding {
    let root = &cfg.record_root;
    let writable = std::fs::create_dir_all(root).and_then(|()| tempfile_in(root));
    if let Err(e) = writable {
        return Finding::new("disk", Level::Fail, format!("cannot write to the recording folder {}: {e}", root.display()))
            .fix("give the user write access to it, or choose another with --record-root / TXCR_RECORD_ROOT");
    }
    let free_mb = match fs4::available_space(root) {
        Ok(b) => b >> 20,
        Err(e) => {
            return Finding::new(
                "disk",
                Level::Skip,
                format!("free space of {} unknown: {e}", root.display()),
            )
        }
    };
    // About 1 GB an hour at 1080p15 with sound (2 Mbit/s video + 128 kbit/s AAC).
    let hours = free_mb as f64 / 960.0;
    let min = cfg.min_free_mb;
    let shown = format!(
        "{}: {free_mb} MB free (about {hours:.0} hours of 1080p), stop below {min} MB",
        root.display()
    );
    if free_mb < min {
        Finding::new(
            "disk",
            Level::Fail,
            format!("{shown}: StartRecord answers -10005"),
        )
        .fix("free some space, or record to another disk with --record-root")
    } else if free_mb < min + 2 * 960 {
        Finding::new(
            "disk",
            Level::Warn,
            format!("{shown}: less than two hours of class left"),
        )
        .fix("free some space, or record to another disk with --record-root")
    } else {
        Finding::new("disk", Level::Ok, shown)
    }
}

/// Create and remove a file in `dir`.
fn tempfile_in(dir: &std::path::Path) -> std::io::Result<()> {
    let p = dir.join(format!(".txcr-doctor-{}", std::process::id()));
    std::fs::write(&p, b"x")?;
    std::fs::remove_file(&p)
}
