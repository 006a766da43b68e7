//! Pass one: walk every slice's tag headers and build the sample index.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use txcr_mux::flv::{TAG_AUDIO, TAG_VIDEO};
use txcr_mux::{FlvScanner, ScanError};

use crate::SpliceError;

/// One media sample: where its payload is and when it plays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Index of the slice file.
    pub slice: u32,
    /// Offset of the payload (after the FLV codec header) in that file.
    pub offset: u64,
    pub size: u32,
    /// Decode time, ms from the start of the recording.
    pub dts_ms: i64,
    /// Composition offset, ms (0 without B-frames).
    pub cts_ms: i32,
    pub key: bool,
}

// The index is the splice's memory: keep a sample at 32 bytes.
const _: () = assert!(std::mem::size_of::<Sample>() == 32);

/// Everything known about one track after the scan.
#[derive(Debug, Default)]
pub(crate) struct Track {
    /// The codec configuration (AVCDecoderConfigurationRecord or AudioSpecificConfig).
    pub config: Option<Vec<u8>>,
    pub samples: Vec<Sample>,
}

/// The whole recording's index: the moov is built from this, the data copied by it.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub video: Track,
    pub audio: Track,
}

/// FLV codec ids this splicer copies.
const CODEC_AVC: u8 = 7;
const SOUND_AAC: u8 = 10;

impl Index {
    /// Add one slice file (they must come in order).
    pub fn add_slice(&mut self, slice: u32, path: &Path) -> Result<(), SpliceError> {
        let corrupt = |why: String| SpliceError::CorruptSlice {
            slice: slice as usize + 1,
            path: path.to_owned(),
            why,
        };
        let file = File::open(path).map_err(|e| SpliceError::io(path, e))?;
        let len = file.metadata().map_err(|e| SpliceError::io(path, e))?.len();
        let mut scan = FlvScanner::new(BufReader::with_capacity(64 * 1024, file), len)
            .map_err(|e| corrupt(e.to_string()))?;
        loop {
            let tag = match scan.next_tag() {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(ScanError::Io(e)) => return Err(SpliceError::io(path, e)),
                Err(e) => return Err(corrupt(e.to_string())),
            };
            let (head_len, track, is_video) = match tag.tag_type {
                TAG_VIDEO => (5usize, &mut self.video, true),
                TAG_AUDIO => (2usize, &mut self.audio, false),
                _ => continue,
            };
            let mut head = [0u8; 5];
            let n = scan
                .read_body(&mut head[..head_len])
                .map_err(|e| corrupt(e.to_string()))?;
            if n < head_len {
                if is_video && n >= 2 && head[1] == 2 {
                    continue; // AVC end-of-sequence
                }
                return Err(corrupt(format!(
                    "tag at byte {} is too short",
                    tag.body_offset
                )));
            }
            if is_video && head[0] & 0x0f != CODEC_AVC {
                return Err(corrupt("video is not H.264".into()));
            }
            if !is_video && head[0] >> 4 != SOUND_AAC {
                return Err(corrupt("audio is not AAC".into()));
            }
            let payload = tag.size - head_len as u32;
            match head[1] {
                0 => {
                    // Sequence header: every slice repeats it; all must agree.
                    let mut cfg = vec![0u8; payload as usize];
                    scan.read_body(&mut cfg)
                        .map_err(|e| corrupt(e.to_string()))?;
                    match &track.config {
                        None => track.config = Some(cfg),
                        Some(c) if *c == cfg => {}
                        Some(_) => {
                            return Err(SpliceError::ConfigChanged {
                                slice: slice as usize + 1,
                                what: if is_video { "video" } else { "audio" },
                            })
                        }
                    }
                }
                1 => {
                    if track.config.is_none() {
                        return Err(corrupt("media before its sequence header".into()));
                    }
                    let cts_ms = if is_video {
                        // Signed 24-bit composition time offset.
                        (i32::from_be_bytes([head[2], head[3], head[4], 0])) >> 8
                    } else {
                        0
                    };
                    let dts_ms = i64::from(tag.ts_ms);
                    if let Some(last) = track.samples.last() {
                        if dts_ms < last.dts_ms && last.slice != slice {
                            // This slice starts where it should; the one
                            // before ran past it.
                            return Err(SpliceError::RunsPastNext {
                                slice: last.slice as usize + 1,
                                last_ms: last.dts_ms,
                                next_ms: dts_ms,
                            });
                        }
                        if dts_ms < last.dts_ms {
                            return Err(corrupt(format!(
                                "time goes backwards at byte {} ({} ms after {} ms)",
                                tag.body_offset, dts_ms, last.dts_ms
                            )));
                        }
                    }
                    track.samples.push(Sample {
                        slice,
                        offset: tag.body_offset + head_len as u64,
                        size: payload,
                        dts_ms,
                        cts_ms,
                        key: is_video && head[0] >> 4 == 1,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}
