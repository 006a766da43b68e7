//! Sound through the PulseAudio protocol (PulseAudio, or PipeWire's
//! pipewire-pulse), natively: a blocking record stream read on its own
//! thread. The thread sleeps in the read until a block (20 ms) is there, so
//! the whole class costs a few wake-ups a block; cpal's ALSA bridge to the
//! same server polls and costs more than the video path.
//!
//! The server converts to the format asked for (48 kHz stereo f32), so the
//! recorder gets one format from every Pulse source.
//!
//! When the device goes away (a USB microphone unplugged, a server restart)
//! the thread reconnects every [`RETRY`] until it is back, or until the source
//! is dropped; the recorder fills the gap with silence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libpulse_binding::def::BufferAttr;
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;

use super::{AudioBlock, AudioFormat, AudioSource, BlockSink};
use crate::CaptureError;

/// What every Pulse source delivers.
const FORMAT: AudioFormat = AudioFormat {
    sample_rate: 48_000,
    channels: 2,
};
/// Frames a read returns (20 ms).
const BLOCK_FRAMES: usize = 960;
/// Between attempts to reconnect a lost stream.
const RETRY: Duration = Duration::from_millis(500);

/// A record stream from a Pulse source (`device`: a source's name; `None`:
/// the default source, the microphone).
#[derive(Debug)]
pub struct PulseSource {
    device: Option<String>,
    label: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn spec() -> Spec {
    Spec {
        format: Format::F32le,
        rate: FORMAT.sample_rate,
        channels: FORMAT.channels as u8,
    }
}

fn connect(device: Option<&str>) -> Result<Simple, CaptureError> {
    let bytes = (BLOCK_FRAMES * usize::from(FORMAT.channels) * 4) as u32;
    let attr = BufferAttr {
        maxlength: u32::MAX,
        tlength: u32::MAX,
        prebuf: u32::MAX,
        minreq: u32::MAX,
        fragsize: bytes,
    };
    Simple::new(
        None,
        "txcloudrecord",
        Direction::Record,
        device,
        "class recording",
        &spec(),
        None,
        Some(&attr),
    )
    .map_err(|e| {
        let what = device.unwrap_or("the default source");
        CaptureError::Unavailable(format!("audio: PulseAudio, {what}: {e}"))
    })
}

impl PulseSource {
    /// Connect once to check the server and the device are there (so a
    /// recording without them says why at once); `label` names the source in
    /// logs and `GetState`.
    pub fn open(device: Option<&str>, label: &str) -> Result<Self, CaptureError> {
        if device.is_some_and(|d| d.contains('\0')) {
            return Err(CaptureError::Unavailable(
                "audio: a device name cannot hold a NUL character".into(),
            ));
        }
        drop(connect(device)?);
        Ok(Self {
            device: device.map(str::to_owned),
            label: label.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        })
    }
}

/// Read blocks until `stop`; reconnect when the stream fails.
fn run(device: Option<String>, first: Simple, sink: BlockSink, stop: Arc<AtomicBool>) {
    let mut stream = Some(first);
    let mut bytes = vec![0u8; BLOCK_FRAMES * usize::from(FORMAT.channels) * 4];
    let mut lost_at: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(s) = &stream else {
            std::thread::sleep(RETRY);
            match connect(device.as_deref()) {
                Ok(s) => {
                    if let Some(t) = lost_at.take() {
                        tracing::info!(
                            after_ms = t.elapsed().as_millis() as u64,
                            "sound device back"
                        );
                    }
                    stream = Some(s);
                }
                Err(_) => continue,
            }
            continue;
        };
        if let Err(e) = s.read(&mut bytes) {
            tracing::warn!("sound stream lost ({e}); reconnecting");
            lost_at = Some(Instant::now());
            stream = None;
            continue;
        }
        let captured_at = Instant::now();
        let samples = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if !sink.push(AudioBlock {
            samples,
            captured_at,
        }) {
            return;
        }
    }
}

impl AudioSource for PulseSource {
    fn format(&self) -> AudioFormat {
        FORMAT
    }

    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError> {
        // `Simple` is not `Send`: the stream is made on its thread.
        let (device, stop) = (self.device.clone(), self.stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("txcr-pulse-in".into())
            .spawn(move || match connect(device.as_deref()) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    run(device, s, sink, stop);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| CaptureError::Unavailable(format!("audio: {e}")))?;
        self.thread = Some(thread);
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(CaptureError::Unavailable("audio thread ended".into())))
    }

    fn describe(&self) -> String {
        let dev = self.device.as_deref().unwrap_or("default source");
        format!("{} (PulseAudio {dev}, 48000 Hz, 2 ch)", self.label)
    }
}

impl Drop for PulseSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
