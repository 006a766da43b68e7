//! What ffprobe and ffmpeg, independent of our code, make of a slice.

use std::path::Path;

/// Packet times (seconds) of one stream (`v:0`, `a:0`), in file order; and
/// what `ffmpeg -v error -i FILE -f null -` prints (empty is clean).
pub use txcr_testkit::{stream_times as packet_times, strict_decode_errors};

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
