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

/// The video frames of a slice as our own FLV reader walks them: (time ms,
/// keyframe), sequence headers left out. Asserts that the slice starts with a
/// keyframe, as every slice must.
pub fn video_frames(path: &Path) -> Vec<(u32, bool)> {
    let bytes = std::fs::read(path).unwrap();
    let video: Vec<(u32, bool)> = txcr_mux::FlvReader::new(&bytes)
        .unwrap()
        .filter(|t| t.tag_type == 9 && t.body[1] == 1)
        .map(|t| (t.ts_ms, t.is_keyframe()))
        .collect();
    assert!(video[0].1, "{} starts with a keyframe", path.display());
    video
}
