//! `cargo xtask bench-capture [SECONDS]`: record a moving 1920x1080 window on a
//! private Xvfb display with our service and with `ffmpeg -f x11grab` +
//! libx264 at the same preset, bitrate, keyframe interval and no B-frames,
//! one after the other on the same display, and print CPU seconds per recorded
//! second, frames written against expected, and peak RSS, with the ratios.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;

use crate::local::{first_line, port_of, post};
use crate::{cargo, setup, workspace_root};

const W: u32 = 1920;
const H: u32 = 1080;
const BITRATE: u32 = 2_000_000;
const APP: u64 = 1400000000;
const KEY: &str = "bench-key";

/// CPU seconds (user + system) and peak RSS (MiB) of a finished child.
pub fn wait_rusage(child: &mut Child) -> anyhow::Result<(f64, f64)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our unreaped child; status and ru are valid out pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    if pid <= 0 {
        bail!("wait4 failed");
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        secs(ru.ru_utime) + secs(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
    ))
}

/// CPU seconds a running process has used so far.
fn cpu_so_far(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|x| x.1)
        .unwrap_or("")
        .split(' ')
        .collect();
    // After the command name: field 14/15 of stat are at 11/12 here.
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}

fn count_frames(path: &std::path::Path) -> u64 {
    Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

struct Run {
    cpu: f64,
    frames: u64,
    dropped: u64,
    rss_mb: f64,
    bytes: u64,
}

fn ours(
    display: &str,
    xid: &str,
    fps: u32,
    secs: u64,
    dir: &std::path::Path,
) -> anyhow::Result<Run> {
    let exe = workspace_root().join("target/release/txcloudrecord");
    let mut child = Command::new(exe)
        .args(["--port", "0", "--capture", "x11"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--record-root")
        .arg(dir)
        .env("DISPLAY", display)
        .env("TXCR_SDKAPPID", APP.to_string())
        .env("TXCR_SECRET_KEY", KEY)
        .env("TXCR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let line = first_line(&mut child)?;
    let port = port_of(&line)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let sig = txcr_auth::gen_user_sig(APP, KEY, "bench", 3600, now);
    post(
        port,
        "Init",
        &format!(r#"{{"SdkAppId":{APP},"UserId":"bench","UserSig":"{sig}"}}"#),
    )?;
    let before = cpu_so_far(child.id())?;
    let dst = format!("ours-{fps}-{now}.flv");
    post(
        port,
        "StartRecord",
        &format!(
            r#"{{"Wnd":{xid},"VideoFps":{fps},"VideoBps":{BITRATE},"SliceTime":3600,"EnableAudio":false,"EnableUpload":false,"DstPath":"{dst}","ClassId":1}}"#
        ),
    )?;
    std::thread::sleep(Duration::from_secs(secs));
    post(port, "StopRecord", "")?;
    let cpu = cpu_so_far(child.id())? - before;
    let st = post(port, "GetState", "")?;
    post(port, "Exit", "")?;
    let (_, rss_mb) = wait_rusage(&mut child)?;
    let file = st["Record"]["Slices"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(Run {
        cpu,
        frames: count_frames(file.as_ref()),
        dropped: st["Record"]["DroppedFrames"].as_u64().unwrap_or(0),
        rss_mb,
        bytes: std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
    })
}

fn ffmpeg(display: &str, fps: u32, secs: u64, dir: &std::path::Path) -> anyhow::Result<Run> {
    let out = dir.join(format!("ffmpeg-{fps}.flv"));
    let kbps = format!("{}k", BITRATE / 1000);
    let mut child = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "x11grab",
            "-draw_mouse",
            "0",
            "-framerate",
            &fps.to_string(),
        ])
        .args(["-video_size", &format!("{W}x{H}"), "-i", display])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-bf",
            "0",
            "-g",
            &(fps * 10).to_string(),
        ])
        .args([
            "-b:v", &kbps, "-maxrate", &kbps, "-bufsize", &kbps, "-pix_fmt", "yuv420p",
        ])
        .args(["-t", &secs.to_string(), "-y"])
        .arg(&out)
        .spawn()?;
    let (cpu, rss_mb) = wait_rusage(&mut child)?;
    Ok(Run {
        cpu,
        frames: count_frames(&out),
        dropped: 0,
        rss_mb,
        bytes: std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
    })
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    setup::ensure()?;
    cargo(&[
        "build",
        "--release",
        "-p",
        "txcloudrecord",
        "-p",
        "txcr-testwin",
    ])?;
    let dir = tempfile_dir()?;
    let (_window, display, xid) = crate::local::test_window(None, W, H)?;
    println!("==> {W}x{H} moving window on {display}, {secs} s per run, veryfast, {} kbit/s, no B-frames", BITRATE / 1000);
    println!(
        "{:<8} {:<8} {:>10} {:>14} {:>9} {:>9} {:>10}",
        "fps", "tool", "cpu s/s", "frames/expect", "dropped", "peak MiB", "kbit/s"
    );
    for fps in [15, 30] {
        let expect = secs * u64::from(fps);
        let a = ours(&display, &xid, fps, secs, &dir)?;
        let b = ffmpeg(&display, fps, secs, &dir)?;
        for (name, r) in [("ours", &a), ("ffmpeg", &b)] {
            println!(
                "{fps:<8} {name:<8} {:>10.3} {:>14} {:>9} {:>9.1} {:>10.0}",
                r.cpu / secs as f64,
                format!("{}/{expect}", r.frames),
                r.dropped,
                r.rss_mb,
                r.bytes as f64 * 8.0 / 1000.0 / secs as f64
            );
        }
        println!(
            "{fps:<8} {:<8} {:>10.2} {:>14} {:>9} {:>9.2}",
            "ratio",
            a.cpu / b.cpu,
            "",
            "",
            a.rss_mb / b.rss_mb
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("txcr-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
