//! What one application plays, on Windows 10 2004 and later: WASAPI process
//! loopback (`AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK`, through the
//! `wasapi` crate) of the recorded window's process and the processes it
//! started. The teacher's music or a notification from another program stays
//! out. Where the OS cannot (older Windows), opening fails and the chooser
//! falls back to the loopback of the whole output, saying so.
//!
//! The thread waits on WASAPI's event (10 ms periods) and hands over 20 ms
//! blocks; while the application plays nothing Windows delivers nothing, and
//! the recorder's mix is silence there.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use wasapi::{AudioClient, Direction, SampleType, StreamMode, WaveFormat};

use super::{AudioBlock, AudioFormat, AudioSource, BlockSink};
use crate::CaptureError;

const FORMAT: AudioFormat = AudioFormat {
    sample_rate: 48_000,
    channels: 2,
};
/// Bytes of a 20 ms block: 960 frames of two f32.
const BLOCK_BYTES: usize = 960 * 2 * 4;

fn unavailable(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Unavailable(format!("audio: process loopback: {e}"))
}

/// The sound of process `pid`'s tree.
#[derive(Debug)]
pub struct AppLoopback {
    pid: u32,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A started client: COM for this thread, the client, its event and reader.
struct Client {
    audio: AudioClient,
    event: wasapi::Handle,
    capture: wasapi::AudioCaptureClient,
}

fn client(pid: u32) -> Result<Client, CaptureError> {
    // The thread is ours: a multithreaded apartment is right for it.
    let _ = wasapi::initialize_mta();
    let mut audio = AudioClient::new_application_loopback_client(pid, true).map_err(unavailable)?;
    let format = WaveFormat::new(32, 32, &SampleType::Float, 48_000, 2, None);
    let mode = StreamMode::EventsShared {
        autoconvert: true,
        buffer_duration_hns: 0,
    };
    audio
        .initialize_client(&format, &Direction::Capture, &mode)
        .map_err(unavailable)?;
    let event = audio.set_get_eventhandle().map_err(unavailable)?;
    let capture = audio.get_audiocaptureclient().map_err(unavailable)?;
    Ok(Client {
        audio,
        event,
        capture,
    })
}

impl AppLoopback {
    /// Check that this Windows can record process `pid`'s sound.
    pub fn open(pid: u32) -> Result<Self, CaptureError> {
        // COM objects stay on the thread that made them: try on a thread.
        std::thread::spawn(move || client(pid).map(drop))
            .join()
            .map_err(|_| unavailable("the check panicked"))??;
        Ok(Self {
            pid,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        })
    }
}

fn run(c: &Client, sink: &BlockSink, stop: &AtomicBool) -> Result<(), CaptureError> {
    c.audio.start_stream().map_err(unavailable)?;
    let mut queue: VecDeque<u8> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        // A timeout is an application playing nothing.
        if c.event.wait_for_event(100).is_err() {
            continue;
        }
        if c.capture
            .get_next_packet_size()
            .map_err(unavailable)?
            .unwrap_or(0)
            > 0
        {
            c.capture
                .read_from_device_to_deque(&mut queue)
                .map_err(unavailable)?;
        }
        while queue.len() >= BLOCK_BYTES {
            let bytes: Vec<u8> = queue.drain(..BLOCK_BYTES).collect();
            let samples = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if !sink.push(AudioBlock {
                samples,
                captured_at: Instant::now(),
            }) {
                return Ok(());
            }
        }
    }
    let _ = c.audio.stop_stream();
    Ok(())
}

impl AudioSource for AppLoopback {
    fn format(&self) -> AudioFormat {
        FORMAT
    }

    fn start(&mut self, sink: BlockSink) -> Result<(), CaptureError> {
        let (pid, stop) = (self.pid, self.stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("txcr-app-loopback".into())
            .spawn(move || match client(pid) {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    if let Err(e) = run(&c, &sink, &stop) {
                        tracing::warn!("the class app's sound stopped: {e}");
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(unavailable)?;
        self.thread = Some(thread);
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(unavailable("the thread ended")))
    }

    fn always_delivers(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        format!(
            "class app (WASAPI process loopback of process {} and its children, 48000 Hz, 2 ch)",
            self.pid
        )
    }
}

impl Drop for AppLoopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
