//! `cargo xtask bench [SECONDS] [--rounds N] [--only TEXT|load]`: our recorder side
//! by side with `ffmpeg -f x11grab … libx264` and GStreamer `ximagesrc !
//! videoconvert ! x264enc`, on one private Xvfb display, recording the same
//! moving window (`txcr-testwin --scene document`: scrolling text; `slides`:
//! a page every 5 s; `clock`: a small box changing every second;
//! `whiteboard`: a stroke every 200 ms in a box) at the same size, rate,
//! preset, tune, bitrate and
//! keyframe interval, for the same wall time, the three alternating. Per
//! configuration it prints CPU seconds per recorded second, frames written
//! against expected (ours writes a frame only when the picture changed, and
//! at least one a second: fewer is not a loss), peak RSS, video bitrate, luma
//! PSNR against the painted pictures as a player shows them (at the rate),
//! and ours/best-other ratios; then GetState latency while
//! recording 1920x1080@30 under load, beside a do-nothing floor server asked
//! at the same time (see `load`).

mod load;
mod proc;
mod quality;
mod tools;

pub use proc::wait_rusage;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::local::{window, xvfb, Killed};
use crate::setup;
use quality::Quality;
use tools::{Config, Env, Run};

const CONFIGS: &[Config] = &[
    cfg(1280, 720, 15, false, "document"),
    cfg(1280, 720, 15, true, "document"),
    cfg(1920, 1080, 15, false, "document"),
    cfg(1920, 1080, 15, true, "document"),
    cfg(1920, 1080, 30, false, "document"),
    cfg(1920, 1080, 30, true, "document"),
    cfg(1920, 1080, 15, false, "slides"),
    cfg(1920, 1080, 15, false, "clock"),
    cfg(1920, 1080, 15, false, "whiteboard"),
];

const fn cfg(w: u32, h: u32, fps: u32, audio: bool, scene: &'static str) -> Config {
    Config {
        w,
        h,
        fps,
        audio,
        scene,
    }
}

type Tool = fn(&Env, Config, u64, &str) -> anyhow::Result<Run>;
const TOOLS: [(&str, Tool); 3] = [
    ("ours", tools::ours),
    ("ffmpeg", tools::ffmpeg),
    ("gstreamer", tools::gstreamer),
];

struct Args {
    secs: u64,
    rounds: u32,
    only: Option<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let mut a = Args {
        secs: 20,
        rounds: 1,
        only: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rounds" => a.rounds = it.next().context("--rounds N")?.parse()?,
            "--only" => a.only = Some(it.next().context("--only TEXT")?.clone()),
            n => a.secs = n.parse().with_context(|| format!("unknown argument {n}"))?,
        }
    }
    Ok(a)
}

/// Environment variables for a child.
type EnvVars = Vec<(String, String)>;

/// A private PulseAudio server (null sink, its monitor the default source):
/// the guard and the variables that point clients at it.
fn pulse(dir: &Path) -> anyhow::Result<(Vec<Killed>, EnvVars)> {
    let run = dir.join("pulse-run");
    std::fs::create_dir_all(&run)?;
    let env = vec![
        ("PULSE_RUNTIME_PATH".to_owned(), run.display().to_string()),
        ("HOME".to_owned(), dir.display().to_string()),
        (
            "PULSE_SERVER".to_owned(),
            format!("unix:{}", run.join("native").display()),
        ),
    ];
    let child = Command::new("pulseaudio")
        .args(["--daemonize=no", "--exit-idle-time=-1", "-n"])
        .args([
            "--load=module-native-protocol-unix",
            "--load=module-null-sink sink_name=bench",
        ])
        .envs(env.iter().take(2).map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting pulseaudio (cargo xtask setup installs it)")?;
    let guard = Killed(child);
    let t0 = Instant::now();
    while !run.join("native").exists() {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("pulseaudio did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ok = Command::new("pactl")
        .args(["set-default-source", "bench.monitor"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()?
        .success();
    if !ok {
        bail!("pactl set-default-source failed");
    }
    // Sound all the time, as a classroom microphone hears: quiet noise into
    // the sink, so its monitor (every recorder's source) never idles.
    let noise = Command::new("pacat")
        .args([
            "--playback",
            "--format=s16le",
            "--rate=48000",
            "--channels=2",
        ])
        .args(["--raw", "--volume=2000", "/dev/urandom"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting pacat")?;
    Ok((vec![guard, Killed(noise)], env))
}

struct Row {
    tool: &'static str,
    run: Run,
    q: Quality,
}

fn print_rows(c: Config, rows: &[Row]) {
    let expect = |r: &Row| (r.q.span * f64::from(c.fps)).round() as u64;
    for r in rows {
        println!(
            "{:<30} {:<10} {:>8.3} {:>11} {:>5} {:>8.1} {:>8.0} {:>7.2} {:>7.2} {:>5}",
            c.label(),
            r.tool,
            r.run.cpu / r.q.span.max(0.001),
            format!("{}/{}", r.q.frames, expect(r)),
            r.run.dropped.map_or("-".to_owned(), |d| d.to_string()),
            r.run.rss_mb,
            r.q.video_kbps,
            r.q.psnr,
            r.q.min_psnr,
            r.q.unreadable
        );
    }
    let per = |name: &str, f: &dyn Fn(&Row) -> f64| -> f64 {
        let v: Vec<f64> = rows.iter().filter(|r| r.tool == name).map(f).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let cpu = |r: &Row| r.run.cpu / r.q.span.max(0.001);
    let rss = |r: &Row| r.run.rss_mb;
    let best = |f: &dyn Fn(&Row) -> f64| per("ffmpeg", f).min(per("gstreamer", f));
    println!(
        "{:<30} {:<10} {:>8.2} {:>11} {:>5} {:>8.2} {:>8} {:>+7.2}   (ours / better of ffmpeg, gstreamer; PSNR: ours − better)",
        c.label(),
        "ratio",
        per("ours", &cpu) / best(&cpu),
        "",
        "",
        per("ours", &rss) / best(&rss),
        "",
        per("ours", &|r| r.q.psnr) - per("ffmpeg", &|r| r.q.psnr).max(per("gstreamer", &|r| r.q.psnr)),
    );
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let a = parse(args)?;
    setup::ensure()?;
    setup::ensure_packages(setup::BENCH_PACKAGES)?;
    crate::build_release(&["txcloudrecord", "txcr-testwin"])?;
    let dir = std::env::temp_dir().join(format!("txcr-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench(&a, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn bench(a: &Args, dir: &Path) -> anyhow::Result<()> {
    let (_x, display) = xvfb(1920, 1080)?;
    let (_pulse, pulse_env) = pulse(dir)?;
    println!(
        "==> {display}: {} s per run, {} round(s), preset {}, tune {}, bitrate 0.1 bit/pixel/frame, no B-frames, keyframe every 10 s\n    (ours adds its default screen-content x264 options, txcr_encode::SCREEN_PARAMS; --x264-params none to compare without)",
        a.secs,
        a.rounds,
        tools::PRESET,
        tools::TUNE
    );
    println!(
        "{:<30} {:<10} {:>8} {:>11} {:>5} {:>8} {:>8} {:>7} {:>7} {:>5}",
        "configuration",
        "recorder",
        "cpu s/s",
        "frames/exp",
        "drop",
        "peak MiB",
        "kbit/s",
        "PSNR",
        "min",
        "blank"
    );
    for &c in CONFIGS {
        if a.only.as_deref().is_some_and(|o| !c.label().contains(o)) {
            continue;
        }
        let (_win, xid) = window(&display, c.w, c.h, &["--fps", "30", "--scene", c.scene])?;
        let env = Env {
            display: &display,
            xid: &xid,
            pulse: &pulse_env,
            dir,
        };
        let mut rows = Vec::new();
        for round in 0..a.rounds {
            for (tool, f) in TOOLS {
                let tag = format!("{}x{}-{}-{}-{round}", c.w, c.h, c.fps, u8::from(c.audio));
                let run =
                    f(&env, c, a.secs, &tag).with_context(|| format!("{tool}, {}", c.label()))?;
                let q = quality::measure(&run.file, c)?;
                let _ = std::fs::remove_file(&run.file);
                rows.push(Row { tool, run, q });
            }
        }
        print_rows(c, &rows);
    }
    if a.only.as_deref().is_none_or(|o| o == "load") {
        getstate_under_load(&display, &pulse_env, dir, a.secs)?;
    }
    Ok(())
}

/// GetState latency from 4 clients × 250 requests/s while recording 1080p30.
fn getstate_under_load(
    display: &str,
    pulse: &[(String, String)],
    dir: &Path,
    secs: u64,
) -> anyhow::Result<()> {
    let c = cfg(1920, 1080, 30, false, "document");
    let (_win, xid) = window(display, c.w, c.h, &["--fps", "30", "--scene", c.scene])?;
    let env = Env {
        display,
        xid: &xid,
        pulse,
        dir,
    };
    let (child, port) = tools::start_ours(&env)?;
    let _guard = Killed(child);
    let mut lat = Err(anyhow::anyhow!("load did not run"));
    let (file, dropped) = tools::record_ours(port, &env, c, "load", || {
        // Ours and the floor asked at the same time, 4 clients each.
        lat = load::answer_of(port)
            .and_then(load::Floor::start)
            .and_then(|floor| {
                let theirs = std::thread::spawn(move || load::run(floor.port, 4, 250, secs));
                let ours = load::run(port, 4, 250, secs)?;
                let floor = theirs
                    .join()
                    .map_err(|_| anyhow::anyhow!("floor load panicked"))??;
                Ok((ours, floor))
            });
    })?;
    let (ours, floor) = lat?;
    let q = quality::measure(&file, c)?;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "==> GetState while recording {}: 4 keep-alive clients at 250/s each, the same again on a floor that answers a stored copy at once; frames {}/{}, {dropped} dropped",
        c.label(),
        q.frames,
        (q.span * f64::from(c.fps)).round()
    );
    for (who, l) in [("ours ", &ours), ("floor", &floor)] {
        println!(
            "    {who}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            l.requests,
            ms(l.p50),
            ms(l.p99),
            ms(l.max)
        );
    }
    println!(
        "    ours/floor p99 {:.2}; ours - floor p99 {:+.2} ms",
        ours.p99 as f64 / floor.p99.max(1) as f64,
        ms(ours.p99) - ms(floor.p99)
    );
    Ok(())
}
