//! The audio thread: blocks from every sound source, each placed on the
//! recording timeline by its [`Lane`], added into one [`Mix`], handed out a
//! short delay behind the clock (so a source that delivers late or not at
//! all never holds up the others), encoded to AAC, handed to the encode
//! thread. Each source's health is published for `GetState`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use txcr_capture::audio::{AudioBlock, AudioSource, BlockSink};
use txcr_core::Packet;
use txcr_encode::AudioEncoder;

use crate::codecs::Codecs;
use crate::lane::Lane;
use crate::mix::{Mix, OUT_RATE};
use crate::shared::Shared;
use crate::spec::SoundInput;
use crate::stats::{Level, Sound, SourceHealth, SourceState};
use crate::sync::lock;

/// The mix is handed out this far behind the recording clock: longer than a
/// sound server's bursts (PulseAudio delivers up to ~200 ms at once).
const MIX_DELAY_MS: f64 = 300.0;
/// A started source that delivers nothing this long (wall time) is lost.
const LOST_AFTER: Duration = Duration::from_secs(2);
/// How often health is published.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// One started source.
struct Voice {
    label: String,
    device: String,
    note: Option<String>,
    lane: Lane,
    /// Blocks the source dropped because this thread was behind.
    dropped_blocks: Arc<AtomicU64>,
    last_block: Instant,
    /// Whether a pause in delivery means the device was lost.
    always_delivers: bool,
    was_paused: bool,
    /// Whether its warning is standing (logged when it began).
    warned: bool,
}

impl Voice {
    fn health(&self, now: Instant) -> SourceHealth {
        let quiet = now.saturating_duration_since(self.last_block);
        let state = if self.always_delivers && quiet >= LOST_AFTER {
            SourceState::Failed(format!(
                "no sound for {} s: the device is gone or taken; reconnecting",
                quiet.as_secs()
            ))
        } else if self.lane.meter.silent() {
            SourceState::Silent
        } else {
            SourceState::On
        };
        SourceHealth {
            label: self.label.clone(),
            device: self.device.clone(),
            state,
            // Nothing delivered for a second: nothing to hear.
            level: if quiet >= Duration::from_secs(1) {
                Level::default()
            } else {
                self.lane.meter.level()
            },
            dropped: self.lane.late + self.dropped_blocks.load(Ordering::Relaxed),
            note: self.note.clone(),
        }
    }
}

/// What the audio thread runs: the started sources, where their blocks come
/// in, the encoder and where packets go.
pub struct AudioJob {
    voices: Vec<Voice>,
    /// Sources that could not start, reported as such.
    unavailable: Vec<SourceHealth>,
    /// Dropping them stops the devices.
    sources: Vec<Box<dyn AudioSource>>,
    blocks: Receiver<(usize, AudioBlock)>,
    pub(crate) encoder: Box<dyn AudioEncoder>,
    out: SyncSender<Packet>,
}

/// Each source's health to `GetState`; a warning logged when it begins and
/// when it ends.
fn publish(sh: &Shared, job: &mut AudioJob, now: Instant) {
    let mut all = Vec::with_capacity(job.voices.len() + job.unavailable.len());
    for v in &mut job.voices {
        let h = v.health(now);
        let bad = matches!(h.state, SourceState::Silent | SourceState::Failed(_));
        if bad && !v.warned {
            tracing::warn!(source = %v.label, "{}", h.warning().unwrap_or_default());
        } else if !bad && v.warned {
            tracing::info!(source = %v.label, "sound is back");
        }
        v.warned = bad;
        all.push(h);
    }
    all.extend(job.unavailable.iter().cloned());
    *lock(&sh.sources) = all;
}

/// Runs until the recording stops; drops the sources (stopping the devices),
/// hands out the rest of the mix, drains the encoder and closes `out`.
pub fn audio_loop(sh: &Shared, mut job: AudioJob) {
    let mut mix = Mix::new(0);
    let mut packets = Vec::new();
    let mut published = Instant::now();
    let mut run = |job: &mut AudioJob| -> Result<(), String> {
        loop {
            let got = job.blocks.recv_timeout(Duration::from_millis(20));
            let now = Instant::now();
            let (stop, media_ms) = {
                let ctl = lock(&sh.ctl);
                (
                    sh.is_stopped(),
                    ctl.timeline.media_time(now).as_secs_f64() * 1000.0,
                )
            };
            match got {
                Ok((i, block)) => place(sh, job, &mut mix, i, &block),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            let behind = if stop { 0.0 } else { MIX_DELAY_MS };
            let until = ((media_ms - behind).max(0.0) * f64::from(OUT_RATE) / 1000.0) as u64;
            if let Some(m) = mix.take(until) {
                job.encoder
                    .encode(&[&m.left, &m.right], m.start_ms(), &mut packets)
                    .map_err(|e| e.to_string())?;
                for p in packets.drain(..) {
                    job.out
                        .send(p)
                        .map_err(|_| "encode thread gone".to_owned())?;
                }
            }
            if now.duration_since(published) >= PUBLISH_EVERY {
                published = now;
                publish(sh, job, now);
            }
            if stop {
                return Ok(());
            }
        }
    };
    let result = run(&mut job);
    publish(sh, &mut job, Instant::now());
    job.sources.clear();
    if let Err(e) = result {
        tracing::warn!("audio stopped: {e}; the recording goes on without sound");
        *lock(&sh.audio) = Sound::Failed(e);
        return;
    }
    if job.encoder.flush(&mut packets).is_ok() {
        for p in packets.drain(..) {
            let _ = job.out.send(p);
        }
    }
    for v in &job.voices {
        let h = v.health(Instant::now());
        if h.dropped > 0 {
            tracing::warn!(source = %v.label, dropped = h.dropped, jumps = v.lane.jumps, "sound dropped because the recorder fell behind or the device stalled");
        }
    }
}

/// Put one source's block into the mix (or skip it: before the start, while
/// paused).
fn place(sh: &Shared, job: &mut AudioJob, mix: &mut Mix, i: usize, block: &AudioBlock) {
    let Some(v) = job.voices.get_mut(i) else {
        return;
    };
    v.last_block = Instant::now();
    let (paused, at) = {
        let ctl = lock(&sh.ctl);
        (
            ctl.timeline.is_paused_at(block.captured_at),
            ctl.timeline.media_time(block.captured_at),
        )
    };
    // Sound from before the start, or while paused, is not recorded.
    if paused || block.captured_at < sh.started {
        v.was_paused |= paused;
        return;
    }
    if v.was_paused {
        v.lane.rebase();
        v.was_paused = false;
    }
    v.lane.push(&block.samples, at.as_secs_f64() * 1000.0, mix);
}

/// Why a recording has no sound: the reasons, and each source as unavailable.
pub(crate) type NoSound = (String, Vec<SourceHealth>);

/// Open the AAC encoder (48 kHz stereo: the mix) and start every source;
/// those that cannot start are reported unavailable. `Err` when none starts.
pub(crate) fn start_audio(
    inputs: Vec<SoundInput>,
    codecs: &dyn Codecs,
) -> Result<(AudioJob, Receiver<Packet>, String), NoSound> {
    // ~0.6 s of 10 ms blocks from every source; beyond that the audio thread is stuck and blocks are dropped.
    let (block_tx, blocks) = mpsc::sync_channel(64 * inputs.len().max(1));
    let (mut voices, mut unavailable, mut sources, mut why) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for input in inputs {
        let SoundInput {
            label,
            mut source,
            gain,
            note,
        } = input;
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = BlockSink::tagged(block_tx.clone(), voices.len(), dropped.clone());
        let lane = Lane::new(source.format(), gain);
        let started =
            lane.and_then(|lane| source.start(sink).map(|()| lane).map_err(|e| e.to_string()));
        let device = source.describe();
        match started {
            Ok(lane) => {
                tracing::info!(source = %label, "recording sound from {device}");
                voices.push(Voice {
                    label,
                    device,
                    note,
                    lane,
                    dropped_blocks: dropped,
                    last_block: Instant::now(),
                    always_delivers: source.always_delivers(),
                    was_paused: false,
                    warned: false,
                });
                sources.push(source);
            }
            Err(e) => {
                tracing::warn!(source = %label, "no sound: {e}");
                why.push(format!("{label}: {e}"));
                unavailable.push(SourceHealth::unavailable(label, device, e, note));
            }
        }
    }
    if voices.is_empty() {
        return Err((why.join("; "), unavailable));
    }
    let what = voices
        .iter()
        .map(|v| v.device.clone())
        .collect::<Vec<_>>()
        .join(" + ");
    let encoder = codecs
        .audio(OUT_RATE, 2)
        .map_err(|e| (e.to_string(), unavailable.clone()))?;
    let (out, rx) = mpsc::sync_channel(1024);
    Ok((
        AudioJob {
            voices,
            unavailable,
            sources,
            blocks,
            encoder,
            out,
        },
        rx,
        what,
    ))
}
