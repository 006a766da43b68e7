//! The three recorders the bench compares, each started the way its users
//! would, with the same size, rate, preset, tune, bitrate, keyframe interval
//! and no B-frames: our `txcloudrecord` (driven over its HTTP API),
//! `ffmpeg -f x11grab … -c:v libx264 -pix_fmt yuv420p` and GStreamer
//! `ximagesrc ! videoconvert ! x264enc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::proc::{cpu_so_far, interrupt, wait_rusage};
use crate::local::{first_line, port_of, post};
use crate::workspace_root;

pub const APP: u64 = 1400000000;
pub const KEY: &str = "bench-key";
pub const PRESET: &str = "veryfast";
pub const TUNE: &str = "zerolatency";
pub const AUDIO_BPS: u32 = 128_000;

/// One configuration of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub w: u32,
    pub h: u32,
    pub fps: u32,
    pub audio: bool,
    /// `document` (scrolling text), `slides` (a page every 5 s), `clock` or
    /// `whiteboard` (a small area changing).
    pub scene: &'static str,
}

impl Config {
    /// The bitrate our service picks for this size and rate when the client
    /// gives none (`txcr_encode::auto_bitrate`: 0.1 bit per pixel per frame,
    /// 300 kbit/s … 8 Mbit/s); everyone gets it.
    pub fn bitrate(&self) -> u32 {
        (u64::from(self.w) * u64::from(self.h) * u64::from(self.fps) / 10).clamp(300_000, 8_000_000)
            as u32
    }

    pub fn keyint(&self) -> u32 {
        self.fps * 10
    }

    pub fn label(&self) -> String {
        let sound = if self.audio { "+audio" } else { "" };
        format!("{}x{}@{} {}{sound}", self.w, self.h, self.fps, self.scene)
    }
}

/// What one recorder did in one run.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub cpu: f64,
    pub rss_mb: f64,
    pub file: PathBuf,
    /// Frames the recorder says it dropped (ours: `GetState.Record.DroppedFrames`).
    pub dropped: Option<u64>,
}

/// Environment every recorder gets: the display and the private sound server.
pub struct Env<'a> {
    pub display: &'a str,
    pub xid: &'a str,
    pub pulse: &'a [(String, String)],
    pub dir: &'a Path,
}

/// Our service, Init + StartRecord over HTTP; CPU counted from StartRecord to
/// the end of StopRecord (the finished file), memory over the whole process.
pub fn ours(env: &Env, c: Config, secs: u64, tag: &str) -> anyhow::Result<Run> {
    let (mut child, port) = start_ours(env)?;
    let before = cpu_so_far(child.id())?;
    let st = record_ours(port, env, c, tag, || {
        std::thread::sleep(Duration::from_secs(secs))
    })?;
    let cpu = cpu_so_far(child.id())? - before;
    post(port, "Exit", "")?;
    let (_, rss_mb) = wait_rusage(&mut child)?;
    Ok(Run {
        cpu,
        rss_mb,
        file: st.0,
        dropped: Some(st.1),
    })
}

/// Start the service; its port.
pub fn start_ours(env: &Env) -> anyhow::Result<(Child, u16)> {
    let exe = workspace_root().join("target/release/txcloudrecord");
    let mut child = Command::new(exe)
        .args([
            "--port",
            "0",
            "--capture",
            "x11",
            "--preset",
            PRESET,
            "--tune",
            TUNE,
        ])
        .arg("--data-dir")
        .arg(env.dir.join("data"))
        .arg("--record-root")
        .arg(env.dir)
        .env("DISPLAY", env.display)
        .env("TXCR_SDKAPPID", APP.to_string())
        .env("TXCR_SECRET_KEY", KEY)
        .env("TXCR_LOG", "warn")
        .envs(env.pulse.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .spawn()
        .context("starting txcloudrecord")?;
    let port = port_of(&first_line(&mut child)?)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let sig = txcr_auth::gen_user_sig(APP, KEY, "bench", 3600, now);
    post(
        port,
        "Init",
        &format!(r#"{{"SdkAppId":{APP},"UserId":"bench","UserSig":"{sig}"}}"#),
    )?;
    Ok((child, port))
}

/// StartRecord, `during()`, StopRecord: the one slice written, and the frames
/// the service says it dropped.
pub fn record_ours(
    port: u16,
    env: &Env,
    c: Config,
    tag: &str,
    during: impl FnOnce(),
) -> anyhow::Result<(PathBuf, u64)> {
    let dst = format!("ours-{tag}.flv");
    post(
        port,
        "StartRecord",
        &format!(
            r#"{{"Wnd":{},"VideoFps":{},"VideoBps":{},"SliceTime":3600,"EnableAudio":{},{}"EnableUpload":false,"DstPath":"{dst}","ClassId":1}}"#,
            env.xid,
            c.fps,
            c.bitrate(),
            c.audio,
            // Two sources that both deliver all the time (the bench's sound
            // server plays nothing, and the test window's app sound would
            // deliver nothing): the cost of a class's two sounds mixed.
            if c.audio {
                r#""AudioSources":["mic","system"],"#
            } else {
                ""
            }
        ),
    )?;
    during();
    post(port, "StopRecord", "")?;
    let st = post(port, "GetState", "")?;
    let file = st["Record"]["Slices"][0]
        .as_str()
        .context("no slice recorded")?;
    let dropped = st["Record"]["DroppedFrames"].as_u64().unwrap_or(0);
    Ok((PathBuf::from(file), dropped))
}

/// `ffmpeg -f x11grab`, stopped by `-t`.
pub fn ffmpeg(env: &Env, c: Config, secs: u64, tag: &str) -> anyhow::Result<Run> {
    let out = env.dir.join(format!("ffmpeg-{tag}.flv"));
    let kbps = format!("{}k", c.bitrate() / 1000);
    let mut cmd = Command::new("ffmpeg");
    // Queues big enough that one input never stalls the other (what ffmpeg
    // itself advises when it does).
    cmd.args(["-nostdin", "-v", "error", "-thread_queue_size", "512"])
        .args(["-f", "x11grab", "-draw_mouse", "0"])
        .args(["-framerate", &c.fps.to_string()])
        .args([
            "-video_size",
            &format!("{}x{}", c.w, c.h),
            "-i",
            env.display,
        ]);
    if c.audio {
        cmd.args(["-thread_queue_size", "512", "-f", "pulse", "-i", "default"]);
    }
    cmd.args([
        "-c:v", "libx264", "-preset", PRESET, "-tune", TUNE, "-bf", "0",
    ])
    .args([
        "-g",
        &c.keyint().to_string(),
        "-b:v",
        &kbps,
        "-maxrate",
        &kbps,
    ])
    .args(["-bufsize", &kbps, "-pix_fmt", "yuv420p"]);
    if c.audio {
        cmd.args(["-c:a", "aac", "-b:a", &AUDIO_BPS.to_string()]);
    }
    let mut child = cmd
        .args(["-t", &secs.to_string(), "-y"])
        .arg(&out)
        .envs(env.pulse.iter().map(|(k, v)| (k, v)))
        .spawn()
        .context("starting ffmpeg")?;
    finish(&mut child, out, "ffmpeg")
}

/// `gst-launch-1.0 -e ximagesrc ! videoconvert ! x264enc ! flvmux`, stopped
/// by SIGINT (end of stream, so the file is finished).
pub fn gstreamer(env: &Env, c: Config, secs: u64, tag: &str) -> anyhow::Result<Run> {
    let out = env.dir.join(format!("gst-{tag}.flv"));
    let video = format!(
        "ximagesrc display-name={} startx=0 starty=0 endx={} endy={} use-damage=false show-pointer=false \
         ! video/x-raw,framerate={}/1 ! videoconvert ! video/x-raw,format=I420 \
         ! x264enc speed-preset={PRESET} tune={TUNE} bitrate={} vbv-buf-capacity=1000 bframes=0 key-int-max={} \
         ! h264parse ! queue ! mux.",
        env.display,
        c.w - 1,
        c.h - 1,
        c.fps,
        c.bitrate() / 1000,
        c.keyint()
    );
    let audio = if c.audio {
        format!(
            // provide-clock=false: with pulsesrc's clock, ximagesrc sends EOS
            // after a second (GStreamer 1.22).
            " pulsesrc provide-clock=false ! audioconvert ! audioresample ! voaacenc bitrate={AUDIO_BPS} ! aacparse ! queue ! mux."
        )
    } else {
        String::new()
    };
    let pipeline = format!(
        "{video}{audio} flvmux name=mux streamable=false ! filesink location={}",
        out.display()
    );
    let mut child = Command::new("gst-launch-1.0")
        .arg("-q")
        .arg("-e")
        .args(pipeline.split_whitespace())
        .envs(env.pulse.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .spawn()
        .context("starting gst-launch-1.0")?;
    std::thread::sleep(Duration::from_secs(secs));
    interrupt(&child);
    finish(&mut child, out, "gst-launch-1.0")
}

/// Reap a recorder that writes `out` itself: what it used, and its file.
fn finish(child: &mut Child, out: PathBuf, name: &str) -> anyhow::Result<Run> {
    let (cpu, rss_mb) = wait_rusage(child)?;
    if !out.exists() {
        anyhow::bail!("{name} wrote no file (its message is above)");
    }
    Ok(Run {
        cpu,
        rss_mb,
        file: out,
        dropped: None,
    })
}
