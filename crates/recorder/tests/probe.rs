//! What ffprobe and ffmpeg, independent of our code, make of a slice.

use std::path::Path;
use std::process::Command;

/// Packet times (seconds) of one stream (`v:0`, `a:0`), in file order.
pub fn packet_times(path: &Path, stream: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (cargo xtask setup)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// What `ffmpeg -v error -i FILE -f null -` prints: decoding every frame at
/// the stream's own frame rate, as a player does, so two frames whose times
/// round to one frame slot are reported. Empty is clean.
pub fn strict_decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is installed (cargo xtask setup)");
    assert!(
        out.status.success(),
        "ffmpeg could not read {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
