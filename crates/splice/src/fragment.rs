//! One slice as a fragmented-MP4 media segment for HLS (live replay), and
//! the init segment every such segment of a recording plays after.
//!
//! The same reading as the splice ([`Index::add_slice`]) and the same codec
//! boxes as its `moov`; a segment is one `moof` (a `traf` per track) and one
//! `mdat`, the payload copied without re-encoding. Times stay on the
//! recording's timeline (the FLV stamps, continuous across slices): each
//! segment's `tfdt` is its first sample's recording time, so segments made
//! one at a time, minutes apart, continue one another without a gap or a
//! shared state. Video is on a millisecond timescale (as in the MP4), sound
//! on its sample rate in whole 1024-sample AAC frames.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use mp4_atom::{
    Decode, Ftyp, Mdat, Mfhd, Moof, Mvex, Tfdt, Tfhd, Traf, Trex, Trun, TrunEntry, TrunSamples,
};

use crate::index::{Index, Sample};
use crate::moov::{self, TrackIn};
use crate::SpliceError;

/// Sample flags: a sync sample (depends on nothing).
const SYNC: u32 = 0x0200_0000;
/// Sample flags: depends on others, not a sync sample.
const NON_SYNC: u32 = 0x0101_0000;
/// AAC frame length, samples.
const AAC_FRAME: u32 = 1024;

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// `moof` + `mdat`.
    pub bytes: Vec<u8>,
    /// Recording time of its first video frame, ms.
    pub start_ms: i64,
    /// How long its video plays, ms (the playlist's `EXTINF`).
    pub duration_ms: u64,
}

fn read(slice: &Path) -> Result<Index, SpliceError> {
    let mut index = Index::default();
    index.add_slice(0, slice)?;
    Ok(index)
}

/// The init segment (`ftyp` + a `moov` with no samples and an `mvex`) made
/// from a slice's sequence headers; every slice of a recording shares them.
pub fn init_segment(slice: &Path) -> Result<Vec<u8>, SpliceError> {
    let index = read(slice)?;
    let vcfg = index.video.config.as_deref().ok_or(SpliceError::NoVideo)?;
    let video = moov::parse_avc(vcfg)?;
    let audio = index
        .audio
        .config
        .as_deref()
        .map(moov::parse_asc)
        .transpose()?;
    let empty = || TrackIn {
        samples: &[],
        chunks: Vec::new(),
        start_ms: 0,
        zero_ms: 0,
    };
    let (mut moov, _) = moov::build(
        Some((&video, empty())),
        audio.as_ref().map(|a| (a, empty())),
        0,
        false,
    );
    let trex = |track_id| Trex {
        track_id,
        default_sample_description_index: 1,
        default_sample_duration: 0,
        default_sample_size: 0,
        default_sample_flags: 0,
    };
    moov.mvex = Some(Mvex {
        mehd: None,
        trex: (1..=moov.trak.len() as u32).map(trex).collect(),
    });
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![
            b"iso6".into(),
            b"cmfc".into(),
            b"isom".into(),
            b"avc1".into(),
            b"mp41".into(),
        ],
    };
    let mut out = crate::encode(&ftyp)?;
    out.extend(crate::encode(&moov)?);
    Ok(out)
}

/// Slice `slice` (its place in the recording, from 1) as a media segment.
pub fn media_segment(slice: &Path, seq: u32) -> Result<Segment, SpliceError> {
    let index = read(slice)?;
    let v = &index.video.samples;
    let first = v.first().ok_or(SpliceError::NoVideo)?;
    let rate = match &index.audio.config {
        Some(c) => moov::parse_asc(c)?.rate,
        None => 0,
    };
    let a: &[Sample] = if rate > 0 { &index.audio.samples } else { &[] };

    let video_runs = video_entries(v);
    let duration_ms = video_runs
        .iter()
        .map(|e| u64::from(e.duration.unwrap_or(0)))
        .sum();
    let traf = |track_id: u32, tfdt: u64, entries: Vec<TrunEntry>, offset: i32| Traf {
        tfhd: Tfhd {
            track_id,
            default_base_is_moof: true,
            ..Default::default()
        },
        tfdt: Some(Tfdt {
            base_media_decode_time: tfdt,
        }),
        trun: vec![Trun {
            data_offset: Some(offset),
            samples: TrunSamples::Explicit(entries),
        }],
        ..Default::default()
    };
    let video_bytes: u64 = v.iter().map(|s| u64::from(s.size)).sum();
    let audio_tfdt = a
        .first()
        .map_or(0, |s| s.dts_ms.max(0) as u64 * u64::from(rate) / 1000);
    let build = |moof_len: i32| {
        let mut trafs = vec![traf(
            1,
            first.dts_ms.max(0) as u64,
            video_runs.clone(),
            moof_len + 8,
        )];
        if !a.is_empty() {
            let entries = a
                .iter()
                .map(|s| TrunEntry {
                    duration: Some(AAC_FRAME),
                    size: Some(s.size),
                    flags: Some(SYNC),
                    cts: None,
                })
                .collect();
            trafs.push(traf(
                2,
                audio_tfdt,
                entries,
                moof_len + 8 + video_bytes as i32,
            ));
        }
        Moof {
            mfhd: Mfhd {
                sequence_number: seq,
            },
            traf: trafs,
        }
    };
    // The offsets are fixed-width: the moof's size does not depend on them.
    let moof_len = crate::encode(&build(0))?.len() as i32;
    let mut bytes = crate::encode(&build(moof_len))?;
    let mut data = Vec::with_capacity(
        (video_bytes + a.iter().map(|s| u64::from(s.size)).sum::<u64>()) as usize,
    );
    copy(slice, v.iter().chain(a), &mut data)?;
    bytes.extend(crate::encode(&Mdat { data })?);
    Ok(Segment {
        bytes,
        start_ms: first.dts_ms,
        duration_ms,
    })
}

/// The size of a media segment's `moof`, from its first 8 bytes: how much of
/// a stored segment [`segment_duration_ms`] needs.
pub fn moof_len(head: &[u8]) -> Result<u32, SpliceError> {
    match head {
        [a, b, c, d, b'm', b'o', b'o', b'f', ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(SpliceError::BadSegment(
            "it does not begin with a moof".into(),
        )),
    }
}

/// How long a media segment made by [`media_segment`] plays, ms (its
/// `Segment::duration_ms`), read back from its `moof` (the segment's first
/// [`moof_len`] bytes, or more): a segment made before a restart need not
/// be made again to be listed.
pub fn segment_duration_ms(moof: &[u8]) -> Result<u64, SpliceError> {
    let len = moof_len(moof)? as usize;
    let mut head = moof
        .get(..len)
        .ok_or_else(|| SpliceError::BadSegment("cut short".into()))?;
    let moof = Moof::decode(&mut head).map_err(|e| SpliceError::BadSegment(e.to_string()))?;
    let video = moof
        .traf
        .iter()
        .find(|t| t.tfhd.track_id == 1)
        .ok_or_else(|| SpliceError::BadSegment("no video track".into()))?;
    let mut ms = 0u64;
    for trun in &video.trun {
        match &trun.samples {
            TrunSamples::Explicit(entries) => {
                ms += entries
                    .iter()
                    .map(|e| u64::from(e.duration.unwrap_or(0)))
                    .sum::<u64>();
            }
            _ => return Err(SpliceError::BadSegment("samples without durations".into())),
        }
    }
    Ok(ms)
}

/// The video's trun entries: each frame lasts until the next; the last as
/// long as the one before it (the next slice's first frame is not known
/// here, and its `tfdt` puts it right anyway).
fn video_entries(v: &[Sample]) -> Vec<TrunEntry> {
    let mut last = 0u32;
    let mut out: Vec<TrunEntry> = v
        .windows(2)
        .map(|w| {
            last = (w[1].dts_ms - w[0].dts_ms).clamp(0, i64::from(u32::MAX)) as u32;
            entry(&w[0], last)
        })
        .collect();
    if let Some(s) = v.last() {
        out.push(entry(s, if v.len() > 1 { last } else { 33 }));
    }
    out
}

fn entry(s: &Sample, duration: u32) -> TrunEntry {
    TrunEntry {
        duration: Some(duration),
        size: Some(s.size),
        flags: Some(if s.key { SYNC } else { NON_SYNC }),
        cts: Some(i64::from(s.cts_ms)),
    }
}

/// Append the samples' payloads, in the given order, from `slice`.
fn copy<'a>(
    slice: &Path,
    samples: impl Iterator<Item = &'a Sample>,
    out: &mut Vec<u8>,
) -> Result<(), SpliceError> {
    let f = File::open(slice).map_err(|e| SpliceError::io(slice, e))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut pos = 0u64;
    for s in samples {
        r.seek_relative(s.offset as i64 - pos as i64)
            .map_err(|e| SpliceError::io(slice, e))?;
        let at = out.len();
        out.resize(at + s.size as usize, 0);
        r.read_exact(&mut out[at..])
            .map_err(|e| SpliceError::io(slice, e))?;
        pos = s.offset + u64::from(s.size);
    }
    Ok(())
}
