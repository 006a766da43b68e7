//! `cargo xtask bench-splice [MINUTES] [SLICES]`: splice a class's worth of
//! FLV slices with our splicer and with `ffmpeg -f concat -c copy -movflags
//! +faststart`, side by side: wall time, CPU, peak memory, and the duration
//! each output reports.
//!
//! The slices (1280x720 at 15 fps, 2 Mbit/s CBR H.264 + 48 kHz AAC, cut at
//! keyframes with continuing timestamps, like the recorder's) are made once by
//! ffmpeg under `target/bench-splice/` and reused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};

use crate::bench::wait_rusage;
use crate::{cargo, workspace_root};

fn make_slices(dir: &Path, minutes: u64, slices: u64) -> anyhow::Result<Vec<PathBuf>> {
    let secs = minutes * 60;
    let seg = secs / slices.max(1);
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "flv"));
        v.sort();
        v
    };
    let existing = list(dir);
    if existing.len() as u64 == slices {
        return Ok(existing);
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    println!("==> making {slices} slices of {seg} s (once; reused by later runs)");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=1280x720:rate=15:duration={secs}"),
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:sample_rate=48000:duration={secs}"),
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "2M",
            "-minrate",
            "2M",
        ])
        .args([
            "-maxrate",
            "2M",
            "-bufsize",
            "2M",
            "-x264-params",
            "nal-hrd=cbr",
        ])
        .args(["-force_key_frames", &format!("expr:gte(t,n_forced*{seg})")])
        .args(["-c:a", "aac", "-b:a", "64k", "-ac", "2"])
        .args([
            "-f",
            "segment",
            "-segment_format",
            "flv",
            "-segment_time",
            &seg.to_string(),
        ])
        .args(["-reset_timestamps", "0"])
        .arg(dir.join("slice_%03d.flv"))
        .status()
        .context("ffmpeg is installed (cargo xtask setup)")?;
    if !status.success() {
        bail!("ffmpeg could not make the slices");
    }
    Ok(list(dir))
}

struct Run {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
    duration: f64,
    bytes: u64,
}

fn measure(mut cmd: Command, out: &Path) -> anyhow::Result<Run> {
    let _ = std::fs::remove_file(out);
    let t0 = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).spawn()?;
    let (cpu, rss_mb) = wait_rusage(&mut child)?;
    let wall = t0.elapsed().as_secs_f64();
    Ok(Run {
        wall,
        cpu,
        rss_mb,
        duration: probe_duration(out),
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
    })
}

fn probe_duration(p: &Path) -> f64 {
    crate::local::probe_secs(p).unwrap_or(0.0)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let minutes: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let count: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(12);
    crate::setup::ensure()?;
    let root = workspace_root();
    let dir = root
        .join("target/bench-splice")
        .join(format!("{minutes}m-{count}"));
    let slices = make_slices(&dir, minutes, count)?;
    let input: u64 = slices
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let sum: f64 = slices.iter().map(|p| probe_duration(p)).sum();
    cargo(&[
        "build",
        "--release",
        "-q",
        "-p",
        "txcr-examples",
        "--example",
        "splice",
    ])?;

    let ours_out = dir.join("ours.mp4");
    let mut ours = Command::new(root.join("target/release/examples/splice"));
    ours.arg(&ours_out).args(&slices);
    let list = dir.join("concat.txt");
    std::fs::write(
        &list,
        slices
            .iter()
            .map(|p| format!("file '{}'\n", p.display()))
            .collect::<String>(),
    )?;
    let ff_out = dir.join("ffmpeg.mp4");
    let mut ff = Command::new("ffmpeg");
    ff.args([
        "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i",
    ])
    .arg(&list)
    .args(["-c", "copy", "-movflags", "+faststart"])
    .arg(&ff_out);

    // Warm the page cache so both read the slices from memory. Streamed: a
    // forked child's peak RSS starts from ours, so we must stay small.
    for p in &slices {
        std::io::copy(&mut std::fs::File::open(p)?, &mut std::io::sink())?;
    }
    let a = measure(ours, &ours_out)?;
    let b = measure(ff, &ff_out)?;
    println!(
        "\n{count} slices, {minutes} min, {:.0} MiB in; slices sum to {sum:.3} s\n",
        input as f64 / 1048576.0
    );
    println!("             wall s   CPU s   peak RSS MiB   output MiB   duration s");
    for (name, r) in [("ours", &a), ("ffmpeg", &b)] {
        println!(
            "{name:<10} {:>8.2} {:>7.2} {:>14.1} {:>12.1} {:>12.3}",
            r.wall,
            r.cpu,
            r.rss_mb,
            r.bytes as f64 / 1048576.0,
            r.duration
        );
    }
    println!(
        "\nours / ffmpeg: wall {:.2}x, CPU {:.2}x, memory {:.2}x",
        a.wall / b.wall,
        a.cpu / b.cpu,
        a.rss_mb / b.rss_mb
    );
    Ok(())
}
