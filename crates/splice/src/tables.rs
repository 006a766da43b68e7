//! From the sample index to MP4 sample tables: timing (stts/ctts), sizes
//! (stsz), sync samples (stss) and the chunk layout shared by both tracks.

use mp4_atom::{CttsEntry, StscEntry, SttsEntry};

use crate::index::Sample;

/// Chunks span at most this much time, so audio and video interleave finely
/// enough for a player reading the file front to back.
const CHUNK_MS: i64 = 1000;

/// Which track a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Video,
    Audio,
}

/// A run of consecutive samples of one track stored together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    pub kind: Kind,
    pub first: usize,
    pub count: usize,
    /// Offset from the start of the mdat payload.
    pub rel_offset: u64,
}

/// Lay the samples of both tracks out in time order, a chunk per track per
/// second. Returns the chunks in file order and the total payload size.
pub(crate) fn layout(video: &[Sample], audio: &[Sample]) -> (Vec<Chunk>, u64) {
    let (mut vi, mut ai, mut off) = (0usize, 0usize, 0u64);
    let mut chunks = Vec::new();
    let mut take = |kind, samples: &[Sample], i: &mut usize, end: i64, off: &mut u64| {
        let (first, rel_offset) = (*i, *off);
        while *i < samples.len() && samples[*i].dts_ms < end {
            *off += u64::from(samples[*i].size);
            *i += 1;
        }
        if *i > first {
            chunks.push(Chunk {
                kind,
                first,
                count: *i - first,
                rel_offset,
            });
        }
    };
    while vi < video.len() || ai < audio.len() {
        let t = match (video.get(vi), audio.get(ai)) {
            (Some(v), Some(a)) => v.dts_ms.min(a.dts_ms),
            (Some(v), None) => v.dts_ms,
            (None, Some(a)) => a.dts_ms,
            (None, None) => break,
        };
        let end = (t.div_euclid(CHUNK_MS) + 1) * CHUNK_MS;
        take(Kind::Video, video, &mut vi, end, &mut off);
        take(Kind::Audio, audio, &mut ai, end, &mut off);
    }
    (chunks, off)
}

/// `stsc` for one track's chunks (run-length by samples per chunk).
pub(crate) fn stsc(chunks: &[Chunk]) -> Vec<StscEntry> {
    let mut out: Vec<StscEntry> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        if out.last().map(|e| e.samples_per_chunk) != Some(c.count as u32) {
            out.push(StscEntry {
                first_chunk: i as u32 + 1,
                samples_per_chunk: c.count as u32,
                sample_description_index: 1,
            });
        }
    }
    out
}

fn push_run(out: &mut Vec<SttsEntry>, delta: u32) {
    match out.last_mut() {
        Some(e) if e.sample_delta == delta => e.sample_count += 1,
        _ => out.push(SttsEntry {
            sample_count: 1,
            sample_delta: delta,
        }),
    }
}

/// Video timing at 1 ms per tick: each sample lasts until the next one; the
/// last one as long as the one before it. Returns the entries and the total.
pub(crate) fn video_stts(s: &[Sample]) -> (Vec<SttsEntry>, u64) {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut last = 33u32;
    for w in s.windows(2) {
        last = (w[1].dts_ms - w[0].dts_ms).clamp(0, i64::from(u32::MAX)) as u32;
        push_run(&mut out, last);
        total += u64::from(last);
    }
    if !s.is_empty() {
        push_run(&mut out, last);
        total += u64::from(last);
    }
    (out, total)
}

/// Audio timing at the sample rate. AAC frames hold 1024 samples each; the
/// FLV stamps are rounded to ms and follow the recording clock, so frames keep
/// 1024 ticks while the position stays within half a frame of the stamp, and
/// take up the difference (a gap after a resume, or clock drift) when not.
pub(crate) fn audio_stts(s: &[Sample], rate: u32, zero_ms: i64) -> (Vec<SttsEntry>, u64) {
    const FRAME: i64 = 1024;
    let rate = i64::from(rate);
    let mut out = Vec::new();
    let mut pos = s.first().map_or(0, |f| (f.dts_ms - zero_ms) * rate / 1000);
    let start = pos;
    for w in s.windows(2) {
        let target = (w[1].dts_ms - zero_ms) * rate / 1000;
        let delta = if (target - (pos + FRAME)).abs() <= FRAME / 2 {
            FRAME
        } else {
            (target - pos).max(1)
        };
        push_run(&mut out, delta as u32);
        pos += delta;
    }
    if !s.is_empty() {
        push_run(&mut out, FRAME as u32);
        pos += FRAME;
    }
    (out, (pos - start) as u64)
}

/// `ctts`, or `None` when every offset is zero (no B-frames).
pub(crate) fn ctts(s: &[Sample]) -> Option<Vec<CttsEntry>> {
    if s.iter().all(|x| x.cts_ms == 0) {
        return None;
    }
    let mut out: Vec<CttsEntry> = Vec::new();
    for x in s {
        match out.last_mut() {
            Some(e) if e.sample_offset == i64::from(x.cts_ms) => e.sample_count += 1,
            _ => out.push(CttsEntry {
                sample_count: 1,
                sample_offset: i64::from(x.cts_ms),
            }),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(dts_ms: i64, size: u32) -> Sample {
        Sample {
            slice: 0,
            offset: 0,
            size,
            dts_ms,
            cts_ms: 0,
            key: false,
        }
    }

    #[test]
    fn layout_interleaves_by_second_and_counts_every_byte() {
        let video: Vec<_> = (0..30).map(|i| s(i * 100, 1000)).collect();
        let audio: Vec<_> = (0..140).map(|i| s(i * 21, 10)).collect();
        let (chunks, total) = layout(&video, &audio);
        assert_eq!(total, 30 * 1000 + 140 * 10);
        assert_eq!(chunks[0].kind, Kind::Video);
        assert_eq!(chunks[0].count, 10);
        assert_eq!(chunks[1].kind, Kind::Audio);
        assert_eq!(chunks[1].rel_offset, 10_000);
        let n: usize = chunks.iter().map(|c| c.count).sum();
        assert_eq!(n, 170);
    }

    #[test]
    fn audio_keeps_whole_frames_and_takes_up_a_gap() {
        // 48 kHz: 1024 samples = 21.33 ms; a 500 ms gap after the 10th frame.
        let mut a: Vec<_> = (0..10).map(|i| s(i * 1024 * 1000 / 48000, 10)).collect();
        let resume = a[9].dts_ms + 500;
        a.extend((0..10).map(|i| s(resume + i * 1024 * 1000 / 48000, 10)));
        let (stts, total) = audio_stts(&a, 48000, 0);
        assert_eq!(stts[0].sample_delta, 1024);
        assert_eq!(stts[0].sample_count, 9);
        assert!(stts[1].sample_delta > 20_000, "{stts:?}");
        assert_eq!(stts.last().map(|e| e.sample_delta), Some(1024));
        let expect = (resume * 48 + 10 * 1024) as u64;
        assert!(total.abs_diff(expect) < 100, "{total} vs {expect}");
    }

    #[test]
    fn video_last_frame_lasts_as_long_as_the_one_before() {
        let v = [s(0, 1), s(66, 1), s(133, 1)];
        let (stts, total) = video_stts(&v);
        assert_eq!(total, 66 + 67 + 67);
        assert_eq!(stts.len(), 2);
    }
}
