//! One sound source's way into the mix: its blocks stamped by its own
//! [`AudioClock`], folded to stereo, brought to the mix's rate and held to
//! the timeline by a rubato resampler whose ratio is steered, and metered.
//! Sans-I/O: the caller passes blocks and the clock reading.
//!
//! Why steer: each sound card has its own crystal (tens of ppm off). The
//! clock's stamps say where a block belongs; written back to back, the
//! samples would drift away from those stamps (100 ppm is 360 ms an hour).
//! So the resampler's ratio is nudged in proportion to how far the next
//! block would land from its stamp, and the source stays on the timeline
//! without gaps or overlaps. A source already at [`OUT_RATE`] goes through
//! rubato's `Slip` (a copy, now and then a frame slipped under a short
//! crossfade); any other rate through its polynomial `Async` resampler.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Adjustable, Async, FixedAsync, PolynomialDegree, Slip};
use txcr_capture::audio::AudioFormat;
use txcr_core::AudioClock;

use crate::meter::Meter;
use crate::mix::{Mix, OUT_RATE};

/// Split interleaved samples into at most two planes: mono stays mono, stereo
/// stays stereo, more channels fold into left (even) and right (odd).
fn deinterleave(samples: &[f32], channels: usize, planes: &mut [Vec<f32>]) {
    let channels = channels.max(1);
    for p in planes.iter_mut() {
        p.clear();
    }
    for frame in samples.chunks_exact(channels) {
        if planes.len() == 1 || channels == 1 {
            let v = frame.iter().sum::<f32>() / channels as f32;
            planes.iter_mut().for_each(|p| p.push(v));
            continue;
        }
        let (mut l, mut r, mut nl, mut nr) = (0.0, 0.0, 0.0f32, 0.0f32);
        for (i, v) in frame.iter().enumerate() {
            if i % 2 == 0 {
                (l, nl) = (l + v, nl + 1.0);
            } else {
                (r, nr) = (r + v, nr + 1.0);
            }
        }
        planes[0].push(l / nl.max(1.0));
        planes[1].push(r / nr.max(1.0));
    }
}

/// Output frames per ms.
const PER_MS: f64 = OUT_RATE as f64 / 1000.0;
/// The error is corrected over about this many output frames (2 s).
const STEER_OVER: f64 = 2.0 * OUT_RATE as f64;
/// The steering never asks for more than this relative change: crystals are
/// within ±100 ppm, but a source whose first blocks came in a burst starts
/// some ms off and should be on its stamps within seconds (0.5 % is a pitch
/// change of 9 cents while it lasts).
const MAX_STEER: f64 = 0.005;
/// Beyond this (ms) the source lost samples or was re-anchored: jump to the
/// stamp instead of steering.
const JUMP_MS: f64 = 100.0;

/// One source on its way into the mix.
pub struct Lane {
    rate: u32,
    channels: usize,
    gain: f32,
    clock: AudioClock,
    resampler: Box<dyn Adjustable<f32>>,
    /// Input not yet resampled, stereo planes at the source's rate.
    fifo: Vec<Vec<f32>>,
    planes: Vec<Vec<f32>>,
    out: Vec<Vec<f32>>,
    /// Mix position of the resampler's next output frame; `None` until the
    /// first block (and after a pause).
    cursor: Option<i64>,
    /// The level and silence of what this source delivers (before gain).
    pub meter: Meter,
    /// Frames the mix refused (arrived after their place was handed out).
    pub late: u64,
    /// Times the source lost its place and jumped (device stalls).
    pub jumps: u64,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("rate", &self.rate)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// Input frames the resampler takes at a time: 10 ms.
fn chunk(rate: u32) -> usize {
    (rate as usize / 100).max(16)
}

fn resampler(rate: u32) -> Result<Box<dyn Adjustable<f32>>, String> {
    let n = chunk(rate);
    if rate == OUT_RATE {
        return Slip::new(n, 2, FixedAsync::Input)
            .map(|r| Box::new(r) as Box<dyn Adjustable<f32>>)
            .map_err(|e| e.to_string());
    }
    let ratio = f64::from(OUT_RATE) / f64::from(rate.max(1));
    Async::new_poly(
        ratio,
        1.01,
        PolynomialDegree::Cubic,
        n,
        2,
        FixedAsync::Input,
    )
    .map(|r| Box::new(r) as Box<dyn Adjustable<f32>>)
    .map_err(|e| e.to_string())
}

impl Lane {
    /// A lane for a source of `format`, scaled by `gain` (linear).
    pub fn new(format: AudioFormat, gain: f32) -> Result<Self, String> {
        Ok(Self {
            rate: format.sample_rate,
            channels: usize::from(format.channels.max(1)),
            gain,
            clock: AudioClock::new(format.sample_rate),
            resampler: resampler(format.sample_rate)?,
            fifo: vec![Vec::new(), Vec::new()],
            planes: vec![Vec::new(), Vec::new()],
            out: vec![Vec::new(), Vec::new()],
            cursor: None,
            meter: Meter::default(),
            late: 0,
            jumps: 0,
        })
    }

    /// After a pause: the next block anchors afresh where the timeline
    /// resumed.
    pub fn rebase(&mut self) {
        self.clock.rebase();
        self.cursor = None;
        self.resampler.reset();
        self.fifo.iter_mut().for_each(Vec::clear);
        self.meter.restart();
    }

    /// Where the next input frame will come out, in mix frames, if placed now.
    fn landing(&self, cursor: i64) -> f64 {
        let ratio = f64::from(OUT_RATE) / f64::from(self.rate.max(1));
        cursor as f64 + self.resampler.output_delay() as f64 + self.fifo[0].len() as f64 * ratio
    }

    /// A block of interleaved samples that arrived when the recording clock
    /// read `clock_ms`: stamped, placed, resampled into `mix`.
    pub fn push(&mut self, samples: &[f32], clock_ms: f64, mix: &mut Mix) {
        let frames = samples.len() / self.channels;
        if frames == 0 {
            return;
        }
        let stamp_ms = self.clock.stamp(frames, clock_ms);
        self.meter.push(samples, stamp_ms);
        let target = stamp_ms * PER_MS;
        // Where the cursor must be for the block to land on its stamp.
        let place = |lane: &Self| (target - lane.landing(0)).round() as i64;
        match self.cursor {
            None => self.cursor = Some(place(self)),
            Some(c) => {
                let error = self.landing(c) - target;
                if error.abs() > JUMP_MS * PER_MS {
                    self.jumps += 1;
                    self.cursor = Some(place(self));
                } else {
                    let rel = (1.0 - error / STEER_OVER).clamp(1.0 - MAX_STEER, 1.0 + MAX_STEER);
                    // Out of range only when saturated: the clamp above keeps it in.
                    let _ = self.resampler.set_resample_ratio_relative(rel, true);
                }
            }
        }
        deinterleave(samples, self.channels, &mut self.planes);
        for (f, p) in self.fifo.iter_mut().zip(&self.planes) {
            f.extend_from_slice(p);
        }
        self.drain(mix);
    }

    /// Resample whole chunks from the fifo into the mix.
    fn drain(&mut self, mix: &mut Mix) {
        let Some(mut cursor) = self.cursor else {
            return;
        };
        loop {
            let need = self.resampler.input_frames_next();
            let have = self.fifo[0].len();
            if have < need {
                break;
            }
            let room = self.resampler.output_frames_next();
            self.out.iter_mut().for_each(|o| o.resize(room, 0.0));
            let done = SequentialSliceOfVecs::new(&self.fifo, 2, have)
                .map_err(|e| e.to_string())
                .and_then(|input| {
                    let mut output = SequentialSliceOfVecs::new_mut(&mut self.out, 2, room)
                        .map_err(|e| e.to_string())?;
                    self.resampler
                        .process_into_buffer(&input, &mut output, None)
                        .map_err(|e| e.to_string())
                });
            let Ok((used, made)) = done else {
                // Cannot happen with the sizes asked for; drop the chunk rather than stall.
                self.fifo.iter_mut().for_each(|f| drop(f.drain(..need)));
                continue;
            };
            self.fifo.iter_mut().for_each(|f| drop(f.drain(..used)));
            let skip = usize::try_from(-cursor).unwrap_or(0).min(made);
            let pos = (cursor + skip as i64) as u64;
            self.late += mix.add(
                pos,
                &self.out[0][skip..made],
                &self.out[1][skip..made],
                self.gain,
            );
            cursor += made as i64;
        }
        self.cursor = Some(cursor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_channels_into_what_aac_takes() {
        let mut st = vec![Vec::new(), Vec::new()];
        deinterleave(&[0.1, 0.2, 0.3, 0.4], 2, &mut st);
        assert_eq!(st, [vec![0.1, 0.3], vec![0.2, 0.4]]);
        deinterleave(&[1.0, 0.0, 0.5, 0.5, 0.0, 1.0], 6, &mut st);
        assert_eq!(st, [vec![0.5], vec![0.5]]);
        let mut mono = vec![Vec::new()];
        deinterleave(&[0.2, 0.4], 1, &mut mono);
        assert_eq!(mono, [vec![0.2, 0.4]]);
    }

    /// A source at `rate` whose crystal is `ppm` off, delivering `block`-frame
    /// blocks 0–`jitter` ms late for `minutes`, a 1 kHz-ish ramp in it.
    /// Returns the worst |landing − true position| in ms after the first
    /// seconds, and the mix's frame count against the true duration.
    fn run(rate: u32, ppm: f64, block: usize, jitter: f64, minutes: u64) -> f64 {
        let mut lane = Lane::new(
            AudioFormat {
                sample_rate: rate,
                channels: 2,
            },
            1.0,
        )
        .unwrap();
        let mut mix = Mix::new(0);
        let true_block_ms = block as f64 * 1000.0 / f64::from(rate) * (1.0 - ppm * 1e-6);
        let samples = vec![0.25f32; block * 2];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let blocks = (minutes * 60_000) as f64 / true_block_ms;
        let mut worst: f64 = 0.0;
        for k in 0..blocks as u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let late = (seed % 1000) as f64 / 1000.0 * jitter;
            let true_start = 20.0 + k as f64 * true_block_ms;
            lane.push(&samples, true_start + true_block_ms + late, &mut mix);
            // Hand out behind a delay, as the audio thread does.
            let now = (true_start + true_block_ms) * PER_MS;
            mix.take((now - 300.0 * PER_MS).max(0.0) as u64);
            if true_start > 10_000.0 {
                let landed = lane.landing(lane.cursor.unwrap()) / PER_MS;
                let truth = true_start + true_block_ms;
                worst = worst.max((landed - truth).abs());
            }
        }
        assert_eq!(lane.late, 0, "nothing arrived after it was handed out");
        assert_eq!(lane.jumps, 0, "no jumps without lost samples");
        worst
    }

    #[test]
    fn two_sources_with_different_crystals_stay_on_the_timeline_for_an_hour() {
        // The microphone at 48 kHz, 100 ppm fast, 20 ms blocks, 0–8 ms late;
        // a loopback at 44.1 kHz, 80 ppm slow, 10 ms blocks, 0–4 ms late.
        for (rate, ppm, block, jitter) in [(48_000, 100.0, 960, 8.0), (44_100, -80.0, 441, 4.0)] {
            let worst = run(rate, ppm, block, jitter, 60);
            eprintln!("{rate} Hz, {ppm:+} ppm: worst {worst:.1} ms over an hour");
            assert!(worst <= 40.0, "{rate} Hz {ppm} ppm: {worst:.1} ms");
        }
    }

    #[test]
    fn a_stalled_source_jumps_to_its_stamp_and_leaves_silence() {
        let fmt = AudioFormat {
            sample_rate: 48_000,
            channels: 1,
        };
        let mut lane = Lane::new(fmt, 1.0).unwrap();
        let mut mix = Mix::new(0);
        let block = vec![0.5f32; 480];
        let mut t = 10.0;
        for _ in 0..100 {
            lane.push(&block, t, &mut mix);
            t += 10.0;
        }
        // 1 s without a block, then the device is back.
        t += 1000.0;
        for _ in 0..50 {
            lane.push(&block, t, &mut mix);
            t += 10.0;
        }
        assert_eq!(lane.jumps, 1);
        let out = mix.take((t * PER_MS) as u64 - 960).unwrap();
        let at = |ms: f64| out.left[(ms * PER_MS) as usize];
        assert!(at(500.0) > 0.4, "sound before the stall");
        assert_eq!(at(1500.0), 0.0, "silence in the gap");
        assert!(at(t - 100.0) > 0.4, "sound after it");
    }
}
