//! AAC-LC through `syom` (MIT, pure Rust). FDK-AAC is faster but its licence
//! cannot ship in one binary with GPL x264; syom encodes ~750x real time, far
//! more than a classroom needs.

use std::collections::VecDeque;

use txcr_core::{AudioConfig, MediaKind, Packet};

use crate::EncodeError;

/// Input samples per AAC-LC frame.
const FRAME: u64 = 1024;

/// The audio encode stage: planar f32 PCM in, AAC packets out.
pub trait AudioEncoder: Send {
    /// Sample rate, channels and AudioSpecificConfig.
    fn config(&self) -> &AudioConfig;

    /// Encode one chunk of planar samples (one slice per channel, equal
    /// lengths). `start_ms` is the recording-timeline time of its first sample;
    /// finished packets are appended to `out`, stamped from those anchors.
    fn encode(
        &mut self,
        planes: &[&[f32]],
        start_ms: f64,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError>;

    /// Encode what is buffered (the tail, zero-padded).
    fn flush(&mut self, out: &mut Vec<Packet>) -> Result<(), EncodeError>;
}

/// AAC-LC, raw access units for FLV/MP4, ABR at the given bitrate.
pub struct AacEncoder {
    enc: syom::Encoder,
    config: AudioConfig,
    /// (index of a chunk's first sample, its time in ms), oldest first.
    anchors: VecDeque<(u64, f64)>,
    fed: u64,
    frames_out: u64,
    /// Time of the last packet out, ms.
    last_ms: Option<u64>,
    scratch: Vec<Vec<f32>>,
}

impl std::fmt::Debug for AacEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacEncoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn aac_err(e: syom::AacError) -> EncodeError {
    EncodeError::Encoder(format!("AAC: {e}"))
}

impl AacEncoder {
    /// An encoder for `channels` (1 or 2) at `sample_rate` Hz and `bitrate` bit/s.
    pub fn new(sample_rate: u32, channels: u16, bitrate: u32) -> Result<Self, EncodeError> {
        let opts = syom::EncodeOptions::raw().with_bitrate_bps(bitrate);
        let enc = syom::Encoder::new(sample_rate, usize::from(channels), &opts).map_err(aac_err)?;
        let config = AudioConfig {
            sample_rate,
            channels,
            asc: enc.asc().to_vec(),
        };
        Ok(Self {
            enc,
            config,
            anchors: VecDeque::new(),
            fed: 0,
            frames_out: 0,
            last_ms: None,
            scratch: vec![Vec::new(); usize::from(channels)],
        })
    }

    /// Time of input sample `index`, from the newest anchor at or before it.
    fn time_of(&self, index: u64) -> f64 {
        let rate = f64::from(self.config.sample_rate);
        let (at, ms) = self
            .anchors
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .or(self.anchors.front())
            .copied()
            .unwrap_or((0, 0.0));
        ms + (index as f64 - at as f64) * 1000.0 / rate
    }

    /// Turn encoder output into packets. Output frame `j` holds input samples
    /// from `(j-1)·1024` (the first frame is the encoder's priming, dropped so
    /// audio is not late by 1024 samples).
    fn take(&mut self, payloads: Vec<Vec<u8>>, out: &mut Vec<Packet>) {
        for data in payloads {
            let j = self.frames_out;
            self.frames_out += 1;
            if j == 0 {
                continue;
            }
            let first = (j - 1) * FRAME;
            let mut ms = self.time_of(first).max(0.0).round() as u64;
            // Stamps are interpolated from the chunks' anchors; where the
            // clock re-anchored (after a pause, or a device that lost
            // samples), a frame straddling two chunks could land at or before
            // the previous one. A stream's timestamps only increase.
            if let Some(last) = self.last_ms {
                ms = ms.max(last + 1);
            }
            self.last_ms = Some(ms);
            out.push(Packet {
                kind: MediaKind::Audio,
                pts_ms: ms,
                dts_ms: ms,
                keyframe: true,
                data,
            });
            while self.anchors.len() > 1 && self.anchors[1].0 <= first {
                self.anchors.pop_front();
            }
        }
    }
}

impl AudioEncoder for AacEncoder {
    fn config(&self) -> &AudioConfig {
        &self.config
    }

    fn encode(
        &mut self,
        planes: &[&[f32]],
        start_ms: f64,
        out: &mut Vec<Packet>,
    ) -> Result<(), EncodeError> {
        let n = planes.first().map_or(0, |p| p.len());
        if n == 0 {
            return Ok(());
        }
        if planes.len() != self.scratch.len() || planes.iter().any(|p| p.len() != n) {
            return Err(EncodeError::Encoder(
                "AAC: planes must match the channel count and be equally long".into(),
            ));
        }
        // The encoder refuses samples outside [-1, 1] and non-finite ones: clip.
        for (dst, src) in self.scratch.iter_mut().zip(planes) {
            dst.clear();
            dst.extend(src.iter().map(|s| {
                if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            }));
        }
        self.anchors.push_back((self.fed, start_ms));
        self.fed += n as u64;
        let mut payloads = Vec::new();
        let planes: Vec<&[f32]> = self.scratch.iter().map(Vec::as_slice).collect();
        self.enc
            .feed(&planes, |f| {
                payloads.push(f.payload.to_vec());
                Ok(())
            })
            .map_err(aac_err)?;
        self.take(payloads, out);
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<Packet>) -> Result<(), EncodeError> {
        let mut payloads = Vec::new();
        self.enc
            .finish(|f| {
                payloads.push(f.payload.to_vec());
                Ok(())
            })
            .map_err(aac_err)?;
        self.take(payloads, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, from: usize, n: usize) -> Vec<f32> {
        (from..from + n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn a_tone_decodes_in_ffmpeg_at_its_frequency_with_steady_timestamps() {
        let mut enc = AacEncoder::new(48_000, 2, 128_000).unwrap();
        assert_eq!(enc.config().asc.len(), 2, "AAC-LC AudioSpecificConfig");
        let mut packets = Vec::new();
        let chunk = 480; // 10 ms, as a sound card delivers
        for c in 0..300 {
            let s = sine(48_000, 440.0, c * chunk, chunk);
            enc.encode(&[&s, &s], 1000.0 + c as f64 * 10.0, &mut packets)
                .unwrap();
        }
        enc.flush(&mut packets).unwrap();
        // 3 s = 140.6 frames of 1024: 141 after dropping the priming frame.
        assert_eq!(packets.len(), 141);
        assert_eq!(
            packets[0].pts_ms, 1000,
            "the first packet starts at the first sample"
        );
        for (j, p) in packets.iter().enumerate() {
            let want = 1000.0 + j as f64 * 1024.0 / 48.0;
            assert!(
                (p.pts_ms as f64 - want).abs() <= 1.0,
                "packet {j}: {} vs {want:.1}",
                p.pts_ms
            );
        }
        // Decode with ffmpeg and count zero crossings of the left channel.
        let dir = tempfile::tempdir().unwrap();
        let adts = dir.path().join("tone.aac");
        let mut bytes = Vec::new();
        for p in &packets {
            bytes.extend(syom::wrap_adts_au(&p.data, 48_000, 2).unwrap());
        }
        std::fs::write(&adts, bytes).unwrap();
        let out = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&adts)
            .args(["-f", "s16le", "-ac", "1", "-"])
            .output()
            .expect("ffmpeg is installed (cargo xtask setup)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pcm: Vec<i16> = out
            .stdout
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let mid = &pcm[48_000 / 2..48_000 * 5 / 2]; // 2 s away from the edges
        let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let hz = crossings as f64 / 2.0 / 2.0;
        assert!((hz - 440.0).abs() < 3.0, "decoded tone at {hz} Hz");
        let peak = mid.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(
            (13_000..20_000).contains(&peak),
            "amplitude kept (0.5 full scale): {peak}"
        );
    }

    #[test]
    fn out_of_range_samples_are_clipped_not_refused() {
        let mut enc = AacEncoder::new(48_000, 1, 64_000).unwrap();
        let loud = vec![3.0f32, f32::NAN, -7.0, f32::INFINITY];
        enc.encode(&[&loud], 0.0, &mut Vec::new()).unwrap();
        assert!(
            enc.encode(&[&loud, &loud], 0.0, &mut Vec::new()).is_err(),
            "wrong channel count"
        );
    }
}
