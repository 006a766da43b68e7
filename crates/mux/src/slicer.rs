use std::borrow::Cow;

use txcr_core::{AudioConfig, MediaKind, Packet, VideoConfig};

use crate::flv;

/// The first slice boundary strictly after `t`.
fn boundary_after(t: u64, slice_ms: u64) -> u64 {
    (t / slice_ms + 1) * slice_ms
}

/// Decides, frame by frame on the encoder's input, which frames must be IDR so
/// that every slice can start with a keyframe exactly at its boundary.
#[derive(Debug, Clone)]
pub struct CutPlanner {
    slice_ms: u64,
    next: Option<u64>,
}

impl CutPlanner {
    /// Slices of `slice_ms` milliseconds (at least 1).
    pub fn new(slice_ms: u64) -> Self {
        Self {
            slice_ms: slice_ms.max(1),
            next: None,
        }
    }

    /// Whether the frame at `pts_ms` must be a keyframe: the first frame, and the
    /// first frame at or past each boundary.
    pub fn force_keyframe(&mut self, pts_ms: u64) -> bool {
        match self.next {
            Some(next) if pts_ms < next => false,
            _ => {
                self.next = Some(boundary_after(pts_ms, self.slice_ms));
                true
            }
        }
    }
}

/// A finished slice, as the slicer saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceInfo {
    /// 1-based sequence number.
    pub seq: u32,
    /// Timestamp of its first video frame, ms on the recording timeline.
    pub start_ms: u64,
    /// Where the next slice starts (or, for the last one, the end of its last frame).
    pub end_ms: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// Offset of the `onMetaData` duration (f64, big-endian) in the file.
    pub duration_offset: u64,
}

impl SliceInfo {
    /// `end_ms - start_ms`.
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// What one [`Slicer::push`] did besides producing bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pushed {
    /// The slice that this packet closed (its bytes are all out already).
    pub closed: Option<SliceInfo>,
    /// The slice that this packet opened; [`Slicer::pending`] starts with its header.
    pub opened: Option<u32>,
}

#[derive(Debug)]
struct Current {
    seq: u32,
    start_ms: u64,
    last_video_ms: u64,
    bytes: u64,
    duration_offset: u64,
}

/// Sans-I/O FLV slicer: packets in, bytes for the current slice out.
///
/// After each [`push`](Self::push): if `closed` is set, finish that file; if
/// `opened` is set, open a new one; then append [`pending`](Self::pending) to the
/// current file and call [`clear_pending`](Self::clear_pending).
#[derive(Debug)]
pub struct Slicer {
    slice_ms: u64,
    frame_ms: u64,
    video: VideoConfig,
    audio: Option<AudioConfig>,
    cur: Option<Current>,
    next_cut: u64,
    next_seq: u32,
    buf: Vec<u8>,
    /// The last timestamp written per stream (video, audio).
    last_ts: [Option<u64>; 2],
    corrected: u64,
}

impl Slicer {
    /// A slicer cutting every `slice_ms` ms, for these streams.
    pub fn new(slice_ms: u64, video: VideoConfig, audio: Option<AudioConfig>) -> Self {
        let frame_ms = 1000 / u64::from(video.fps.max(1));
        Self {
            slice_ms: slice_ms.max(1),
            frame_ms,
            video,
            audio,
            cur: None,
            next_cut: 0,
            next_seq: 1,
            buf: Vec::with_capacity(256 * 1024),
            last_ts: [None; 2],
            corrected: 0,
        }
    }

    /// How many packets came with a timestamp not after the previous one of
    /// their stream, and were written 1 ms after it instead. Always 0 unless
    /// the clock upstream regressed; the recorder logs any change.
    pub fn corrected(&self) -> u64 {
        self.corrected
    }

    /// `p`, or a copy 1 ms after the last packet of its stream when its
    /// timestamp does not increase. Players and muxers reject (or stall on) a
    /// repeated timestamp; a debug build stops here so a regression shows in
    /// the tests, a release build writes the corrected copy and counts it.
    fn increasing<'p>(&mut self, p: &'p Packet) -> Cow<'p, Packet> {
        let last = self.last_ts[usize::from(p.kind == MediaKind::Audio)];
        match last {
            Some(last) if p.dts_ms <= last => {
                debug_assert!(
                    false,
                    "{:?} timestamp {} ms does not increase (last {last} ms)",
                    p.kind, p.dts_ms
                );
                self.corrected += 1;
                let shift = last + 1 - p.dts_ms;
                Cow::Owned(Packet {
                    dts_ms: p.dts_ms + shift,
                    pts_ms: p.pts_ms + shift,
                    ..p.clone()
                })
            }
            _ => Cow::Borrowed(p),
        }
    }

    /// Bytes to append to the current slice.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Forget the pending bytes once written.
    pub fn clear_pending(&mut self) {
        self.buf.clear();
    }

    fn close(&mut self, end_ms: u64) -> Option<SliceInfo> {
        self.cur.take().map(|c| SliceInfo {
            seq: c.seq,
            start_ms: c.start_ms,
            end_ms: end_ms.max(c.start_ms),
            bytes: c.bytes,
            duration_offset: c.duration_offset,
        })
    }

    fn open(&mut self, ts: u64) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let before = self.buf.len();
        flv::write_file_header(&mut self.buf, self.audio.is_some(), true);
        let duration_at = flv::write_metadata(&mut self.buf, &self.video, self.audio.as_ref());
        flv::write_avc_sequence_header(&mut self.buf, &self.video, ts);
        if let Some(a) = &self.audio {
            flv::write_aac_sequence_header(&mut self.buf, a, ts);
        }
        self.cur = Some(Current {
            seq,
            start_ms: ts,
            last_video_ms: ts,
            bytes: (self.buf.len() - before) as u64,
            duration_offset: (duration_at - before) as u64,
        });
        self.next_cut = boundary_after(ts, self.slice_ms);
        seq
    }

    /// Take one packet. Video before the first keyframe, and audio before the
    /// first video, are dropped: a slice must start with a decodable picture.
    /// Timestamps must strictly increase per stream (see [`corrected`](Self::corrected)).
    pub fn push(&mut self, p: &Packet) -> Pushed {
        let mut pushed = Pushed::default();
        let before = self.buf.len();
        let writable = match p.kind {
            MediaKind::Video => p.keyframe || self.cur.is_some(),
            MediaKind::Audio => self.cur.is_some() && self.audio.is_some(),
        };
        if !writable {
            return pushed;
        }
        let p = self.increasing(p);
        self.last_ts[usize::from(p.kind == MediaKind::Audio)] = Some(p.dts_ms);
        match p.kind {
            MediaKind::Video => {
                let cut = p.keyframe && (self.cur.is_none() || p.dts_ms >= self.next_cut);
                if cut {
                    pushed.closed = self.close(p.dts_ms);
                    pushed.opened = Some(self.open(p.dts_ms));
                }
                flv::write_video_packet(&mut self.buf, &p);
            }
            MediaKind::Audio => flv::write_audio_packet(&mut self.buf, &p),
        }
        if let Some(c) = self.cur.as_mut() {
            if pushed.opened.is_none() {
                c.bytes += (self.buf.len() - before) as u64;
            } else {
                // The header bytes were counted in open(); add the packet's.
                c.bytes = self.buf.len() as u64 - before as u64;
            }
            if p.kind == MediaKind::Video {
                c.last_video_ms = p.dts_ms;
            }
        }
        pushed
    }

    /// End the recording: close the open slice, which lasts until the end of its
    /// last frame.
    pub fn finish(&mut self) -> Option<SliceInfo> {
        let end = self.cur.as_ref().map(|c| c.last_video_ms + self.frame_ms)?;
        self.close(end)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests
mod tests {
    use super::*;
    use crate::{FlvReader, Tag};

    fn cfg() -> VideoConfig {
        VideoConfig {
            width: 64,
            height: 32,
            fps: 10,
            bitrate: 1,
            sps: vec![0x67, 100, 0, 30],
            pps: vec![0x68, 1],
        }
    }

    fn video(ms: u64, key: bool) -> Packet {
        Packet {
            kind: MediaKind::Video,
            pts_ms: ms,
            dts_ms: ms,
            keyframe: key,
            data: vec![0, 0, 0, 1, 0x65],
        }
    }

    /// Feeds 10 fps frames for `secs` through planner and slicer and collects files.
    fn run(secs: u64, slice_ms: u64) -> (Vec<Vec<u8>>, Vec<SliceInfo>) {
        let mut planner = CutPlanner::new(slice_ms);
        let mut s = Slicer::new(slice_ms, cfg(), None);
        let (mut files, mut infos): (Vec<Vec<u8>>, Vec<SliceInfo>) = (vec![], vec![]);
        for i in 0..secs * 10 {
            let ms = i * 100;
            let key = planner.force_keyframe(ms) || i % 7 == 3; // plus natural keyframes
            let r = s.push(&video(ms, key));
            infos.extend(r.closed);
            if r.opened.is_some() {
                files.push(Vec::new());
            }
            files.last_mut().unwrap().extend_from_slice(s.pending());
            s.clear_pending();
        }
        infos.extend(s.finish());
        (files, infos)
    }

    #[test]
    fn cuts_on_boundaries_and_every_slice_is_self_contained() {
        let (files, infos) = run(12, 5000);
        assert_eq!(files.len(), 3);
        let spans: Vec<_> = infos
            .iter()
            .map(|i| (i.seq, i.start_ms, i.end_ms))
            .collect();
        assert_eq!(spans, [(1, 0, 5000), (2, 5000, 10000), (3, 10000, 12000)]);
        for (f, info) in files.iter().zip(&infos) {
            assert_eq!(info.bytes as usize, f.len());
            let tags: Vec<Tag> = FlvReader::new(f).unwrap().collect();
            assert_eq!(tags[0].tag_type, flv::TAG_SCRIPT);
            assert_eq!(tags[1].body[..2], [0x17, 0], "AVC sequence header");
            assert!(tags[2].is_keyframe(), "first frame is a keyframe");
            assert_eq!(
                tags[2].ts_ms as u64, info.start_ms,
                "timestamps continue the timeline"
            );
            let off = info.duration_offset as usize;
            assert_eq!(&f[off - 9..off - 1], b"duration");
        }
    }

    #[test]
    fn planner_forces_first_frame_past_each_boundary_even_after_drops() {
        let mut p = CutPlanner::new(1000);
        let forced: Vec<u64> = [0, 500, 999, 1200, 1500, 3400, 3500, 4000]
            .into_iter()
            .filter(|&t| p.force_keyframe(t))
            .collect();
        assert_eq!(forced, [0, 1200, 3400, 4000]);
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "does not increase"))]
    fn a_repeated_timestamp_is_refused() {
        let mut s = Slicer::new(1000, cfg(), None);
        s.push(&video(0, true));
        s.push(&video(100, false));
        s.push(&video(100, false)); // debug: stops here
                                    // Release: written 1 ms later, and counted.
        assert_eq!(s.corrected(), 1);
        let tags: Vec<Tag> = FlvReader::new(s.pending()).unwrap().collect();
        let ts: Vec<u32> = tags.iter().skip(2).map(|t| t.ts_ms).collect();
        assert_eq!(ts, [0, 100, 101]);
    }

    #[test]
    fn timestamps_are_checked_per_stream() {
        let audio = AudioConfig {
            sample_rate: 48_000,
            channels: 2,
            asc: vec![0x11, 0x90],
        };
        let mut s = Slicer::new(1000, cfg(), Some(audio));
        let sound = |ms| Packet {
            kind: MediaKind::Audio,
            pts_ms: ms,
            dts_ms: ms,
            keyframe: true,
            data: vec![0x21],
        };
        for p in [
            video(0, true),
            sound(0),
            sound(21),
            video(33, false),
            sound(42),
        ] {
            s.push(&p);
        }
        assert_eq!(
            s.corrected(),
            0,
            "equal times in different streams are fine"
        );
    }

    #[test]
    fn drops_what_cannot_start_a_slice() {
        let mut s = Slicer::new(1000, cfg(), None);
        assert_eq!(s.push(&video(0, false)), Pushed::default());
        assert!(s.pending().is_empty());
        assert!(s.finish().is_none());
    }
}
