//! Joining a recording's FLV slices into one MP4, without re-encoding, in
//! memory bounded by the number of samples (not by the size of the video).
//!
//! Owns: the splice itself. Pass one walks every slice's tag headers
//! ([`txcr_mux::FlvScanner`]; bodies are skipped) and builds a sample index;
//! from it come the MP4 sample tables and a chunk layout (a chunk per track
//! per second, interleaved). The `moov` is then written *first* (faststart:
//! a browser plays while downloading), followed by the `mdat`, whose payload is
//! copied sample by sample from the slice files. Memory is the index (32
//! bytes per sample, plus the sample tables while the `moov` is built), not
//! the video, which streams through 1 MiB buffers: splicing an hour of 15 fps
//! video with 48 kHz AAC (222 000 samples, 890 MiB) peaked at 15.8 MiB RSS
//! (`cargo xtask bench-splice`).
//!
//! Timestamps come from the FLV tags (continuous across slices, recording time),
//! rebased so the recording starts at zero; a track that starts later gets an
//! empty edit so sound and picture stay in sync. Audio keeps whole 1024-sample
//! AAC frames on the sample-rate timescale and takes up gaps and clock drift
//! only where the stamps differ by more than half a frame.
//!
//! Checked, never skipped: slices must be complete FLV (a torn or garbled tag is
//! [`SpliceError::CorruptSlice`] naming the slice and byte), start each track
//! with its sequence header, keep time moving forward (a slice whose media
//! runs past the next slice's start is [`SpliceError::RunsPastNext`], naming
//! that slice rather than the next), and share one codec configuration
//! ([`SpliceError::ConfigChanged`]).
//!
//! Also owns live replay's segments ([`init_segment`], [`media_segment`]):
//! one slice remuxed, the same way, into a fragmented-MP4 HLS segment.
//!
//! Does not own: fetching slices from storage, or what to call the result.
//!
//! Why hand-assembled: `muxide` (measured when the crate was chosen) keeps every sample in memory
//! until it finishes, which a three-hour class cannot afford; the boxes
//! themselves are encoded by `mp4-atom`, and the SPS is read by `h264-reader`.
//! What is written here is the part no crate does: the index and the layout.

mod chapters;
mod fragment;
mod index;
mod moov;
mod tables;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use mp4_atom::{Encode, Ftyp};

pub use crate::chapters::ChapterMark;
pub use crate::fragment::{init_segment, media_segment, moof_len, segment_duration_ms, Segment};
use crate::index::Index;
use crate::moov::TrackIn;
use crate::tables::Kind;

/// What went wrong; each names the slice (1-based) where it applies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpliceError {
    /// No slices were given.
    #[error("no slices to splice")]
    NoSlices,
    /// Reading a slice or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A slice is not complete, valid FLV.
    #[error("slice {slice} ({path}) is corrupt: {why}")]
    CorruptSlice {
        /// 1-based position of the slice.
        slice: usize,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A slice's media runs past the start of the next one: its timestamps
    /// jump ahead (the next slice, read alone, is fine).
    #[error(
        "slice {slice} runs to {last_ms} ms, past the start of the next slice ({next_ms} ms): its timestamps jump ahead"
    )]
    RunsPastNext {
        /// 1-based position of the slice.
        slice: usize,
        /// Its last media time.
        last_ms: i64,
        /// The next slice's first media time.
        next_ms: i64,
    },
    /// A slice's codec configuration differs from the first slice's.
    #[error(
        "slice {slice} changes the {what} configuration; slices of one recording must share it"
    )]
    ConfigChanged {
        /// 1-based position of the slice.
        slice: usize,
        /// `video` or `audio`.
        what: &'static str,
    },
    /// A sequence header cannot be understood.
    #[error("{0}")]
    BadConfig(String),
    /// Writing the MP4 failed.
    #[error("cannot write the MP4: {0}")]
    Write(#[source] std::io::Error),
    /// The slices hold no H.264 video.
    #[error("the slices hold no video")]
    NoVideo,
    /// The MP4 boxes could not be encoded.
    #[error("cannot encode MP4 boxes: {0}")]
    Encode(String),
    /// A stored live segment cannot be read back.
    #[error("not a live segment: {0}")]
    BadSegment(String),
}

impl SpliceError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpliceReport {
    /// Length of the movie, ms.
    pub duration_ms: u64,
    /// Size of the MP4 file.
    pub bytes: u64,
    /// Picture size.
    pub width: u32,
    /// Picture size.
    pub height: u32,
    /// Video frames.
    pub video_samples: usize,
    /// AAC frames (0 without sound).
    pub audio_samples: usize,
    /// Audio sample rate, if there is sound.
    pub audio_rate: Option<u32>,
    /// Each slice's span of media, ms from its first sample to its last
    /// (picture and sound together; 0 for a slice without any): what the
    /// caller checks against the length the slice should have.
    pub slice_spans_ms: Vec<u64>,
    /// The chapters written, as (ms from the movie's start, whole title), in
    /// time order; the MP4 holds each title cut at 255 bytes.
    pub chapters: Vec<(u64, String)>,
}

/// Splice `slices` (in order) into a faststart MP4 at `out`, with `chapters`
/// (see [`splice`]). The file is written beside `out` under a temporary
/// name, synced, and renamed, so `out` is either absent or complete.
pub fn splice_to_file(
    slices: &[PathBuf],
    chapters: &[ChapterMark<'_>],
    out: &Path,
) -> Result<SpliceReport, SpliceError> {
    let tmp = out.with_extension("mp4.part");
    let file = File::create(&tmp).map_err(|e| SpliceError::io(&tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let report = match splice(slices, chapters, &mut w) {
        Ok(r) => r,
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let file = w
        .into_inner()
        .map_err(|e| SpliceError::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| SpliceError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| SpliceError::io(out, e))?;
    Ok(report)
}

/// Splice `slices` (in order) into a faststart MP4 written to `out`. The
/// `chapters` (on the slices' recording timeline) become the MP4's chapter
/// list, rebased like the samples; those outside the movie are left out.
pub fn splice<W: Write>(
    slices: &[PathBuf],
    chapters: &[ChapterMark<'_>],
    out: &mut W,
) -> Result<SpliceReport, SpliceError> {
    if slices.is_empty() {
        return Err(SpliceError::NoSlices);
    }
    let mut index = Index::default();
    for (i, p) in slices.iter().enumerate() {
        index.add_slice(i as u32, p)?;
    }
    let vcfg = index.video.config.as_deref().ok_or(SpliceError::NoVideo)?;
    if index.video.samples.is_empty() {
        return Err(SpliceError::NoVideo);
    }
    let video = moov::parse_avc(vcfg)?;
    let audio = match (&index.audio.config, index.audio.samples.is_empty()) {
        (Some(c), false) => Some(moov::parse_asc(c)?),
        _ => None,
    };
    let (v, a) = (&index.video.samples, &index.audio.samples);
    let a = if audio.is_some() { &a[..] } else { &a[..0] };
    let zero_ms = v[0].dts_ms.min(a.first().map_or(i64::MAX, |s| s.dts_ms));
    let (chunks, payload) = tables::layout(v, a);

    let ftyp = encode(&Ftyp {
        major_brand: b"isom".into(),
        minor_version: 512,
        compatible_brands: vec![
            b"isom".into(),
            b"iso2".into(),
            b"avc1".into(),
            b"mp41".into(),
        ],
    })?;
    let wide = payload > u64::from(u32::MAX) - (256 << 20);
    let mdat_header = if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let build = |data_start: u64| {
        let track = |kind: Kind, samples| TrackIn {
            samples,
            chunks: chunks.iter().filter(|c| c.kind == kind).collect(),
            start_ms: match kind {
                Kind::Video => v[0].dts_ms,
                Kind::Audio => a.first().map_or(zero_ms, |s| s.dts_ms),
            },
            zero_ms,
        };
        let (mut moov, movie_ms) = moov::build(
            Some((&video, track(Kind::Video, v))),
            audio.as_ref().map(|c| (c, track(Kind::Audio, a))),
            data_start,
            wide,
        );
        moov.udta = chapters::udta(&chapters::place(chapters, zero_ms, movie_ms));
        (moov, movie_ms)
    };
    // Chunk offsets are fixed-width, so the moov's size does not depend on them.
    let (probe, _) = build(0);
    let moov_len = encode(&probe)?.len() as u64;
    let data_start = ftyp.len() as u64 + moov_len + mdat_header;
    let (moov_box, duration_ms) = build(data_start);
    let moov_bytes = encode(&moov_box)?;
    debug_assert_eq!(moov_bytes.len() as u64, moov_len);

    let werr = SpliceError::Write;
    out.write_all(&ftyp).map_err(werr)?;
    out.write_all(&moov_bytes).map_err(werr)?;
    if mdat_header == 16 {
        out.write_all(&1u32.to_be_bytes()).map_err(werr)?;
        out.write_all(b"mdat").map_err(werr)?;
        out.write_all(&(payload + 16).to_be_bytes()).map_err(werr)?;
    } else {
        out.write_all(&((payload + 8) as u32).to_be_bytes())
            .map_err(werr)?;
        out.write_all(b"mdat").map_err(werr)?;
    }
    copy_payload(slices, &chunks, v, a, out)?;
    Ok(SpliceReport {
        duration_ms,
        bytes: data_start + payload,
        width: video.width,
        height: video.height,
        video_samples: v.len(),
        audio_samples: a.len(),
        audio_rate: audio.map(|c| c.rate),
        slice_spans_ms: spans(slices.len(), v, a),
        chapters: chapters::place(chapters, zero_ms, duration_ms)
            .into_iter()
            .map(|(ms, title)| (ms, title.to_owned()))
            .collect(),
    })
}

/// Each slice's first-to-last sample span, ms.
fn spans(slices: usize, v: &[index::Sample], a: &[index::Sample]) -> Vec<u64> {
    let mut ends: Vec<Option<(i64, i64)>> = vec![None; slices];
    for s in v.iter().chain(a) {
        if let Some(e) = ends.get_mut(s.slice as usize) {
            let (lo, hi) = e.get_or_insert((s.dts_ms, s.dts_ms));
            *lo = (*lo).min(s.dts_ms);
            *hi = (*hi).max(s.dts_ms);
        }
    }
    ends.into_iter()
        .map(|e| e.map_or(0, |(lo, hi)| (hi - lo).unsigned_abs()))
        .collect()
}

fn encode<T: Encode>(b: &T) -> Result<Vec<u8>, SpliceError> {
    let mut out = Vec::new();
    b.encode(&mut out)
        .map_err(|e| SpliceError::Encode(e.to_string()))?;
    Ok(out)
}

/// Pass two: copy every sample's payload in layout order.
fn copy_payload<W: Write>(
    slices: &[PathBuf],
    chunks: &[tables::Chunk],
    v: &[index::Sample],
    a: &[index::Sample],
    out: &mut W,
) -> Result<(), SpliceError> {
    let mut open: Option<(u32, BufReader<File>, u64)> = None;
    let mut buf = Vec::new();
    for c in chunks {
        let samples = match c.kind {
            Kind::Video => &v[c.first..c.first + c.count],
            Kind::Audio => &a[c.first..c.first + c.count],
        };
        for s in samples {
            let path = &slices[s.slice as usize];
            if open.as_ref().map(|o| o.0) != Some(s.slice) {
                let f = File::open(path).map_err(|e| SpliceError::io(path, e))?;
                open = Some((s.slice, BufReader::with_capacity(1 << 20, f), 0));
            }
            let Some((_, r, pos)) = open.as_mut() else {
                continue;
            };
            let delta = s.offset as i64 - *pos as i64;
            r.seek_relative(delta)
                .map_err(|e| SpliceError::io(path, e))?;
            buf.resize(s.size as usize, 0);
            r.read_exact(&mut buf)
                .map_err(|e| SpliceError::io(path, e))?;
            *pos = s.offset + u64::from(s.size);
            out.write_all(&buf).map_err(SpliceError::Write)?;
        }
    }
    Ok(())
}
