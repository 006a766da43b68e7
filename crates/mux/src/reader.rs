use crate::flv::{FILE_HEADER_LEN, TAG_AUDIO, TAG_HEADER_LEN, TAG_SCRIPT, TAG_VIDEO};
use crate::MuxError;

/// One tag as found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// 8 audio, 9 video, 18 script.
    pub tag_type: u8,
    /// Decode timestamp, ms.
    pub ts_ms: u32,
    /// The tag body.
    pub body: &'a [u8],
    /// Offset of the tag header in the file.
    pub offset: usize,
}

impl Tag<'_> {
    /// Whether this is a video keyframe (AVC or any codec).
    pub fn is_keyframe(&self) -> bool {
        self.tag_type == TAG_VIDEO && self.body.first().is_some_and(|b| b >> 4 == 1)
    }
}

/// Walks the complete tags of an FLV file held in memory. Stops at the first
/// incomplete or inconsistent tag (a torn write), which [`valid_prefix_len`] uses
/// to repair a file after a crash.
#[derive(Debug)]
pub struct FlvReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> FlvReader<'a> {
    /// Check the file header and start after it.
    pub fn new(bytes: &'a [u8]) -> Result<Self, MuxError> {
        if bytes.len() < FILE_HEADER_LEN || &bytes[..3] != b"FLV" {
            return Err(MuxError::NotFlv("missing FLV signature"));
        }
        let header_len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
        if header_len < 9 || header_len + 4 > bytes.len() {
            return Err(MuxError::NotFlv("bad header length"));
        }
        Ok(Self {
            bytes,
            pos: header_len + 4,
        })
    }

    /// Bytes consumed by the complete tags read so far, from the start of the file.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for FlvReader<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        let b = self.bytes.get(self.pos..)?;
        let h = b.get(..TAG_HEADER_LEN)?;
        if !matches!(h[0], TAG_AUDIO | TAG_VIDEO | TAG_SCRIPT) {
            return None;
        }
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let end = TAG_HEADER_LEN + size;
        let prev = b.get(end..end + 4)?;
        if u32::from_be_bytes([prev[0], prev[1], prev[2], prev[3]]) as usize != end {
            return None;
        }
        let tag = Tag {
            tag_type: h[0],
            ts_ms: ts,
            body: &b[TAG_HEADER_LEN..end],
            offset: self.pos,
        };
        self.pos += end + 4;
        Some(tag)
    }
}

/// Length of the longest prefix of `bytes` made of the file header and complete
/// tags: truncating a crashed file there leaves a valid FLV.
pub fn valid_prefix_len(bytes: &[u8]) -> Result<usize, MuxError> {
    let mut r = FlvReader::new(bytes)?;
    for _ in r.by_ref() {}
    Ok(r.position())
}

/// What a slice file cut off by a crash still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Salvage {
    /// Bytes of the valid prefix ([`valid_prefix_len`]).
    pub valid_len: usize,
    /// Timeline span of its video frames, if it has any.
    pub video: Option<VideoSpan>,
}

/// Where a slice's video frames lie on the recording timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSpan {
    /// The first frame's timestamp, ms.
    pub start_ms: u64,
    /// From the first frame to the end of the last (one mean frame interval
    /// after its timestamp), ms.
    pub duration_ms: u64,
}

/// Read what a torn slice holds: its valid prefix and the span of the video
/// frames in it (AVC frames, not sequence headers).
pub fn salvage(bytes: &[u8]) -> Result<Salvage, MuxError> {
    let mut r = FlvReader::new(bytes)?;
    // Earliest and latest stamps, not first and last: a damaged file may
    // have time going backwards (found by fuzzing: it made this subtract
    // below zero).
    let (mut first, mut last, mut frames) = (None, 0u64, 0u64);
    for t in r.by_ref() {
        if t.tag_type == TAG_VIDEO && t.body.get(1) == Some(&1) {
            let ts = u64::from(t.ts_ms);
            let f = first.get_or_insert(ts);
            *f = (*f).min(ts);
            last = last.max(ts);
            frames += 1;
        }
    }
    let video = first.map(|first| {
        let frame = if frames > 1 {
            (last - first) / (frames - 1)
        } else {
            0
        };
        VideoSpan {
            start_ms: first,
            duration_ms: last - first + frame,
        }
    });
    Ok(Salvage {
        valid_len: r.position(),
        video,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;

    #[test]
    fn salvaging_a_file_whose_time_goes_backwards_gives_its_span() {
        // Found by the `flv` fuzz target (kept in its corpus): video frames
        // stamped out of order made the span's subtraction go below zero.
        let bytes = include_bytes!("../../../fuzz/corpus/flv/regress-salvage-time-backwards");
        let s = salvage(bytes).unwrap();
        assert!(s.valid_len <= bytes.len());
        // The span runs from the earliest frame (200 ms) to past the latest.
        let v = s.video.unwrap();
        assert_eq!(v.start_ms, 200, "{v:?}");
    }
}
