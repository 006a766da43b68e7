//! Sound through the PulseAudio protocol (PulseAudio, or PipeWire's
//! pipewire-pulse), natively with libpulse on the source's own thread: a
//! device (the microphone, the default output's monitor), or only what one
//! application's processes play (each of their streams monitored).
//!
//! Why not cpal here: cpal reaches the sound server through ALSA's pulse
//! plugin, which polls; measured per thread it cost more than the whole
//! video path. libpulse sleeps until the server sends a fragment.
//!
//! The server converts to what is asked for (48 kHz stereo f32), so the
//! recorder gets one format from every Pulse source. A device that goes away
//! (a USB microphone unplugged) is reopened every 500 ms until it is back: a
//! named device only itself (its stream is not moved to another), the
//! default source whatever is the default then. A server that goes away is
//! reconnected the same way. The recorder fills the gap with silence.

mod gather;
mod session;
mod tree;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use session::{End, Session, RETRY};

use super::{AudioFormat, AudioSource, BlockSink};
use crate::CaptureError;

/// What every Pulse source delivers.
const FORMAT: AudioFormat = AudioFormat {
    sample_rate: 48_000,
    channels: 2,
};

/// What a [`PulseSource`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PulseTarget {
    /// A source by name (`@DEFAULT_MONITOR@`: what the machine plays);
    /// `None`: the default source (the microphone).
    Device(Option<String>),
    /// What process `pid` and its descendants play.
    App(u32),
}

/// A record stream (or several, summed) from the sound server.
#[derive(Debug)]
pub struct PulseSource {
    target: PulseTarget,
    label: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn unavailable(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Unavailable(format!("audio: {e}"))
}

impl PulseSource {
    /// Check the server is there (and the device, for a device), so a
    /// recording without them says why at once; `label` names the source in
    /// logs and `GetState`.
    pub fn open(target: PulseTarget, label: &str) -> Result<Self, CaptureError> {
        if let PulseTarget::Device(Some(d)) = &target {
            if d.contains('\0') {
                return Err(unavailable("a device name cannot hold a NUL character"));
            }
        }
        let mut s = Session::connect().map_err(unavailable)?;
        if let PulseTarget::Device(dev) = &target {
            drop(s.device_stream(dev.as_deref()).map_err(unavailable)?);
        }
        Ok(Self {
            target,
            label: label.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        })
    }
}

/// Run sessions until stopped, reconnecting a lost server every [`RETRY`].
fn run(target: &PulseTarget, first: Session, sink: &BlockSink, stop: &AtomicBool) {
    let mut session = Some(first);
    while !stop.load(Ordering::Relaxed) {
        let s = match session.take() {
            Some(s) => s,
            None => match Session::connect() {
                Ok(s) => s,
                Err(_) => {
                    std::thread::sleep(RETRY);
                    continue;
                }
            },
        };
        let end = match target {
            PulseTarget::Device(dev) => s.run_device(dev.as_deref(), sink, stop),
            PulseTarget::App(pid) => s.run_app(*pid, sink, stop),
        };
        match end {
            End::Stopped => return,
            End::Lost(why) => {
                tracing::warn!("sound server lost ({why}); reconnecting");
                std::thread::sleep(RETRY);
            }
        }
    }
}

impl AudioSource for PulseSource {
    fn format(&self) -> AudioFormat {
        FORMAT
    }

    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError> {
        // libpulse objects are not `Send`: the session is made on its thread.
        let (target, stop) = (self.target.clone(), self.stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("txcr-pulse-in".into())
            .spawn(move || match Session::connect() {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    run(&target, s, &sink, &stop);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(unavailable(e)));
                }
            })
            .map_err(unavailable)?;
        self.thread = Some(thread);
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(unavailable("audio thread ended")))
    }

    fn always_delivers(&self) -> bool {
        matches!(self.target, PulseTarget::Device(_))
    }

    fn describe(&self) -> String {
        let what = match &self.target {
            PulseTarget::Device(None) => "default source".to_owned(),
            PulseTarget::Device(Some(d)) => d.clone(),
            PulseTarget::App(pid) => format!("streams of process {pid} and its children"),
        };
        format!("{} (PulseAudio {what}, 48000 Hz, 2 ch)", self.label)
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
