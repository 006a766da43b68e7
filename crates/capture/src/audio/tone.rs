use std::f32::consts::TAU;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{AudioBlock, AudioFormat, AudioSource, BlockSink};
use crate::CaptureError;

/// A synthetic sound card: a sine tone in 10 ms blocks, delivered on a steady
/// clock like a real device (for `--capture test-pattern`, tests and benches).
#[derive(Debug)]
pub struct ToneSource {
    format: AudioFormat,
    hz: f32,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ToneSource {
    /// A tone of `hz` at half amplitude, 48 kHz stereo.
    pub fn new(hz: f32) -> Self {
        Self {
            format: AudioFormat {
                sample_rate: 48_000,
                channels: 2,
            },
            hz,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }
}

impl AudioSource for ToneSource {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn describe(&self) -> String {
        format!("test tone {} Hz", self.hz)
    }

    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError> {
        let (rate, ch) = (self.format.sample_rate, usize::from(self.format.channels));
        let (hz, stop) = (self.hz, self.stop.clone());
        let frames = rate as usize / 100;
        let thread = std::thread::Builder::new()
            .name("txcr-tone".into())
            .spawn(move || {
                let t0 = Instant::now();
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let due = t0 + Duration::from_millis((n + 1) * 10);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let first = n * frames as u64;
                    let mut samples = Vec::with_capacity(frames * ch);
                    for i in 0..frames as u64 {
                        let phase = ((first + i) % u64::from(rate)) as f32 / rate as f32;
                        let v = 0.5 * (TAU * hz * phase).sin();
                        samples.extend(std::iter::repeat_n(v, ch));
                    }
                    if !sink.push(AudioBlock {
                        samples,
                        captured_at: Instant::now(),
                    }) {
                        break;
                    }
                    n += 1;
                }
            })
            .map_err(|e| CaptureError::Unavailable(format!("tone thread: {e}")))?;
        self.thread = Some(thread);
        Ok(())
    }
}

impl Drop for ToneSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
