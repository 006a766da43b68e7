//! The audio thread: blocks from the sound source, stamped on the recording
//! timeline by an [`AudioClock`], encoded to AAC, handed to the encode thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use txcr_capture::audio::{AudioBlock, AudioSource, BlockSink};
use txcr_core::{AudioClock, Packet};
use txcr_encode::AudioEncoder;

use crate::codecs::Codecs;
use crate::shared::Shared;
use crate::stats::Sound;
use crate::sync::lock;

/// Split interleaved samples into at most two planes: mono stays mono, stereo
/// stays stereo, more channels fold into left (even) and right (odd).
pub fn deinterleave(samples: &[f32], channels: usize, planes: &mut [Vec<f32>]) {
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

pub struct AudioJob {
    pub source: Box<dyn AudioSource>,
    pub blocks: Receiver<AudioBlock>,
    pub encoder: Box<dyn AudioEncoder>,
    pub out: SyncSender<Packet>,
}

/// Runs until the recording stops; drops the source (stopping the device),
/// drains the encoder and closes `out`.
pub fn audio_loop(sh: &Shared, job: AudioJob) {
    let AudioJob {
        source,
        blocks,
        mut encoder,
        out,
    } = job;
    let format = source.format();
    let channels_in = usize::from(format.channels);
    let mut clock = AudioClock::new(format.sample_rate);
    let mut planes = vec![Vec::new(); usize::from(encoder.config().channels)];
    let mut packets = Vec::new();
    let mut was_paused = false;
    let mut run = || -> Result<(), String> {
        loop {
            let block = match blocks.recv_timeout(Duration::from_millis(100)) {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) if !lock(&sh.ctl).stop => continue,
                Err(_) => return Ok(()),
            };
            let (stop, paused, at) = {
                let ctl = lock(&sh.ctl);
                (
                    ctl.stop,
                    ctl.timeline.is_paused_at(block.captured_at),
                    ctl.timeline.media_time(block.captured_at),
                )
            };
            if stop {
                return Ok(());
            }
            // Sound from before the start, or while paused, is not recorded.
            if paused || block.captured_at < sh.started {
                was_paused |= paused;
                continue;
            }
            if was_paused {
                clock.rebase();
                was_paused = false;
            }
            let frames = block.samples.len() / channels_in.max(1);
            let start_ms = clock.stamp(frames, at.as_secs_f64() * 1000.0);
            deinterleave(&block.samples, channels_in, &mut planes);
            let refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
            encoder
                .encode(&refs, start_ms, &mut packets)
                .map_err(|e| e.to_string())?;
            for p in packets.drain(..) {
                out.send(p).map_err(|_| "encode thread gone".to_owned())?;
            }
        }
    };
    let result = run();
    drop(source);
    if let Err(e) = result {
        tracing::warn!("audio stopped: {e}; the recording goes on without sound");
        *lock(&sh.audio) = Sound::Failed(e);
        return;
    }
    if encoder.flush(&mut packets).is_ok() {
        for p in packets.drain(..) {
            let _ = out.send(p);
        }
    }
    let dropped = sh.audio_dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "audio blocks dropped because the recorder fell behind"
        );
    }
}

/// Open the AAC encoder for the source's format and start the source.
pub(crate) fn start_audio(
    mut source: Box<dyn AudioSource>,
    codecs: &dyn Codecs,
    dropped: &Arc<AtomicU64>,
) -> Result<(AudioJob, Receiver<Packet>, String), String> {
    let format = source.format();
    let channels = format.channels.clamp(1, 2);
    let encoder = codecs
        .audio(format.sample_rate, channels)
        .map_err(|e| e.to_string())?;
    // ~0.6 s of 10 ms blocks; beyond that the audio thread is stuck and blocks are dropped.
    let (block_tx, blocks) = mpsc::sync_channel(64);
    source
        .start(BlockSink::new(block_tx, dropped.clone()))
        .map_err(|e| e.to_string())?;
    let what = source.describe();
    let (out, rx) = mpsc::sync_channel(1024);
    Ok((
        AudioJob {
            source,
            blocks,
            encoder,
            out,
        },
        rx,
        what,
    ))
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
}
