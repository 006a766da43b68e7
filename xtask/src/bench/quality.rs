//! What ended up in a recording: frames and video bitrate (ffprobe), and how
//! close the pictures are to what the window painted (`txcr-testwin --compare`).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use super::tools::Config;
use crate::workspace_root;

#[derive(Debug, Default, Clone)]
pub struct Quality {
    /// Video frames in the file.
    pub frames: u64,
    /// Seconds of video: first to last frame, plus one frame.
    pub span: f64,
    /// Video stream kilobits per second over `span`.
    pub video_kbps: f64,
    /// Mean luma PSNR against the painted pictures, dB.
    pub psnr: f64,
    /// The worst frame's PSNR, dB.
    pub min_psnr: f64,
    /// Frames that show no time stamp (not the scene, e.g. black).
    pub unreadable: u64,
}

pub fn measure(file: &Path, c: Config) -> anyhow::Result<Quality> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "packet=pts_time,size", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .context("running ffprobe")?;
    let packets: Vec<(f64, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (t, size) = l.trim().trim_end_matches(',').split_once(',')?;
            Some((t.parse().ok()?, size.parse().ok()?))
        })
        .collect();
    let bytes: u64 = packets.iter().map(|p| p.1).sum();
    let (first, last) = packets
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let span = if packets.is_empty() {
        0.0
    } else {
        last - first + 1.0 / f64::from(c.fps)
    };
    let cmp = Command::new(workspace_root().join("target/release/txcr-testwin"))
        .args(["--size", &format!("{}x{}", c.w, c.h), "--scene", c.scene])
        .args(["--fps", &c.fps.to_string()])
        .arg("--compare")
        .arg(file)
        .output()
        .context("running txcr-testwin --compare")?;
    let line = String::from_utf8_lossy(&cmp.stdout).trim().to_owned();
    if !cmp.status.success() {
        bail!(
            "comparing {}: {}",
            file.display(),
            String::from_utf8_lossy(&cmp.stderr)
        );
    }
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    Ok(Quality {
        frames: packets.len() as u64,
        span,
        video_kbps: bytes as f64 * 8.0 / 1000.0 / span.max(0.001),
        psnr: field("psnr"),
        min_psnr: field("min_psnr"),
        unreadable: field("unreadable") as u64,
    })
}
