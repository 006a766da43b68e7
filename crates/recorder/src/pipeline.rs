use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use txcr_capture::FrameSource;
use txcr_core::{Timeline, VideoFrame};
use txcr_encode::{auto_bitrate, EncoderSettings, VideoEncoder, X264Encoder};
use txcr_mux::{CutPlanner, FinishedSlice, SliceWriter};

use crate::RecordError;

/// Frames in flight between capture and encode. Two: one being encoded, one
/// waiting; a third would only add latency and memory.
const QUEUE: usize = 2;

/// What to record and how.
#[derive(Debug, Clone)]
pub struct RecordingSpec {
    /// Resolved destination (`DstPath`); slices are named after it.
    pub dst: PathBuf,
    /// Frames per second.
    pub fps: u32,
    /// Bits per second; `None` = [`auto_bitrate`].
    pub bitrate: Option<u32>,
    /// Slice length, seconds.
    pub slice_secs: u32,
    /// x264 preset.
    pub preset: String,
}

impl RecordingSpec {
    /// Defaults: automatic bitrate, `veryfast`.
    pub fn new(dst: PathBuf, fps: u32, slice_secs: u32) -> Self {
        Self {
            dst,
            fps,
            bitrate: None,
            slice_secs,
            preset: "veryfast".into(),
        }
    }
}

/// A snapshot of a running (or finished) recording.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Recorded time (paused time excluded).
    pub recorded: Duration,
    /// Frames encoded and written.
    pub frames: u64,
    /// Frames dropped because the encoder was behind, or capture ticks missed.
    pub dropped: u64,
    /// Finished slices, in order.
    pub slices: Vec<FinishedSlice>,
    /// Set when the recording ended on its own (source gone, disk error).
    pub failure: Option<String>,
}

/// What a stopped recording left.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Final statistics; `slices` lists every file.
    pub stats: Stats,
}

#[derive(Debug)]
struct Control {
    timeline: Timeline,
    /// When the capture thread will grab next. A pause takes effect there, so
    /// the first frame after resume lands exactly one interval after the last
    /// frame before the pause: no gap, no short step.
    next_tick: Instant,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    ctl: Mutex<Control>,
    wake: Condvar,
    frames: AtomicU64,
    dropped: AtomicU64,
    slices: Mutex<Vec<FinishedSlice>>,
    failure: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking recorder thread must not take the API down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn fail(&self, why: String) {
        tracing::error!("recording failed: {why}");
        lock(&self.failure).get_or_insert(why);
        lock(&self.ctl).stop = true;
        self.wake.notify_all();
    }
}

/// A running recording. Dropping it without [`stop`](Self::stop) also stops it
/// cleanly (threads joined, last slice finished).
#[derive(Debug)]
pub struct Recording {
    shared: Arc<Shared>,
    capture: Option<JoinHandle<()>>,
    encode: Option<JoinHandle<()>>,
}

impl Recording {
    /// Open the encoder (errors surface here, before anything runs) and start the
    /// capture and encode threads.
    pub fn start(source: Box<dyn FrameSource>, spec: RecordingSpec) -> Result<Self, RecordError> {
        let (w, h) = source.size();
        let fps = spec.fps.max(1);
        let bitrate = spec.bitrate.unwrap_or_else(|| auto_bitrate(w, h, fps));
        let mut settings = EncoderSettings::new(w, h, fps, bitrate);
        settings.preset = spec.preset.clone();
        let encoder = X264Encoder::new(&settings)?;
        let writer = SliceWriter::new(
            &spec.dst,
            u64::from(spec.slice_secs) * 1000,
            encoder.config().clone(),
            None,
        );
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Control {
                timeline: Timeline::new(Instant::now()),
                next_tick: Instant::now(),
                stop: false,
            }),
            wake: Condvar::new(),
            frames: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            slices: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
        });
        let (tx, rx) = mpsc::sync_channel::<VideoFrame>(QUEUE);
        let (back_tx, back_rx) = mpsc::channel::<VideoFrame>();
        let slice_ms = u64::from(spec.slice_secs) * 1000;
        let s = shared.clone();
        let encode = thread::Builder::new()
            .name("txcr-encode".into())
            .spawn(move || encode_loop(&s, Box::new(encoder), writer, slice_ms, rx, back_tx))
            .map_err(|e| RecordError::Thread(e.to_string()))?;
        let s = shared.clone();
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps));
        let capture = thread::Builder::new()
            .name("txcr-capture".into())
            .spawn(move || capture_loop(&s, source, interval, tx, back_rx))
            .map_err(|e| RecordError::Thread(e.to_string()))?;
        Ok(Self {
            shared,
            capture: Some(capture),
            encode: Some(encode),
        })
    }

    /// Stop the clock; no frames are taken until [`resume`](Self::resume).
    pub fn pause(&self) {
        let mut ctl = lock(&self.shared.ctl);
        let at = ctl.next_tick.max(Instant::now());
        ctl.timeline.pause(at);
        drop(ctl);
        self.shared.wake.notify_all();
    }

    /// Restart the clock where it stopped.
    pub fn resume(&self) {
        lock(&self.shared.ctl).timeline.resume(Instant::now());
        self.shared.wake.notify_all();
    }

    /// Whether the recording ended on its own (see [`Stats::failure`]).
    pub fn has_ended(&self) -> bool {
        lock(&self.shared.ctl).stop
    }

    /// Current statistics.
    pub fn stats(&self) -> Stats {
        let sh = &self.shared;
        Stats {
            recorded: lock(&sh.ctl).timeline.media_time(Instant::now()),
            frames: sh.frames.load(Ordering::Relaxed),
            dropped: sh.dropped.load(Ordering::Relaxed),
            slices: lock(&sh.slices).clone(),
            failure: lock(&sh.failure).clone(),
        }
    }

    /// Stop: no more frames are captured, the encoder is drained and the last
    /// slice finished. Blocks until done (well under a second).
    pub fn stop(mut self) -> Result<Summary, RecordError> {
        let recorded = lock(&self.shared.ctl).timeline.media_time(Instant::now());
        self.join()?;
        let mut stats = self.stats();
        stats.recorded = recorded;
        Ok(Summary { stats })
    }

    fn join(&mut self) -> Result<(), RecordError> {
        {
            let mut ctl = lock(&self.shared.ctl);
            ctl.timeline.pause(Instant::now());
            ctl.stop = true;
        }
        self.shared.wake.notify_all();
        let mut panicked = false;
        for h in [self.capture.take(), self.encode.take()]
            .into_iter()
            .flatten()
        {
            panicked |= h.join().is_err();
        }
        if panicked {
            return Err(RecordError::Thread("a recorder thread panicked".into()));
        }
        Ok(())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Grab frames on a steady clock until stopped; hand them over without ever
/// waiting for the encoder.
fn capture_loop(
    sh: &Shared,
    mut source: Box<dyn FrameSource>,
    interval: Duration,
    tx: SyncSender<VideoFrame>,
    recycled: Receiver<VideoFrame>,
) {
    let (w, h) = source.size();
    // QUEUE in the channel, one in the encoder, one being grabbed.
    let mut spare: Vec<VideoFrame> = (0..QUEUE + 2).map(|_| VideoFrame::new(w, h)).collect();
    let mut next = Instant::now();
    let mut was_paused = false;
    loop {
        // Wait for the next tick, or for pause/stop.
        let mut ctl = lock(&sh.ctl);
        loop {
            if ctl.stop {
                return;
            }
            if ctl.timeline.is_paused() {
                was_paused = true;
                ctl = sh.wake.wait(ctl).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if was_paused {
                was_paused = false;
                next = Instant::now();
            }
            ctl.next_tick = next;
            let now = Instant::now();
            if now >= next {
                break;
            }
            ctl = sh
                .wake
                .wait_timeout(ctl, next - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let now = Instant::now();
        let pts = ctl.timeline.media_time(now);
        drop(ctl);

        spare.extend(recycled.try_iter());
        match spare.pop() {
            Some(mut frame) => {
                frame.pts = pts;
                if let Err(e) = source.grab(&mut frame) {
                    sh.fail(format!("capture: {e}"));
                    return;
                }
                match tx.try_send(frame) {
                    Ok(()) => {}
                    Err(TrySendError::Full(f)) => {
                        sh.dropped.fetch_add(1, Ordering::Relaxed);
                        spare.push(f);
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            }
            None => {
                sh.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        next += interval;
        if now > next + interval {
            // Far behind (machine stalled): count the missed ticks, do not burst.
            let missed = ((now - next).as_secs_f64() / interval.as_secs_f64()) as u64;
            sh.dropped.fetch_add(missed, Ordering::Relaxed);
            next = now + interval;
        }
    }
}

fn encode_loop(
    sh: &Shared,
    mut enc: Box<dyn VideoEncoder>,
    mut writer: SliceWriter,
    slice_ms: u64,
    rx: Receiver<VideoFrame>,
    back: mpsc::Sender<VideoFrame>,
) {
    let mut planner = CutPlanner::new(slice_ms);
    let mut packets = Vec::new();
    let write_all = |packets: &mut Vec<_>, writer: &mut SliceWriter| -> Result<(), RecordError> {
        for p in packets.drain(..) {
            sh.frames.fetch_add(1, Ordering::Relaxed);
            if let Some(done) = writer.write(&p)? {
                tracing::info!(path = %done.path.display(), ms = done.info.duration_ms(), "slice finished");
                lock(&sh.slices).push(done);
            }
        }
        Ok(())
    };
    let mut run = || -> Result<(), RecordError> {
        for frame in rx.iter() {
            let force = planner.force_keyframe(frame.pts.as_millis() as u64);
            let r = enc.encode(&frame, force, &mut packets);
            let _ = back.send(frame);
            r?;
            write_all(&mut packets, &mut writer)?;
        }
        enc.flush(&mut packets)?;
        write_all(&mut packets, &mut writer)?;
        Ok(())
    };
    let result = run();
    // Finish the last slice whatever happened, so what was written stays playable.
    drop(rx);
    let finished = writer.finish();
    match (result, finished) {
        (Ok(()), Ok(last)) => lock(&sh.slices).extend(last),
        (Err(e), last) => {
            if let Ok(last) = last {
                lock(&sh.slices).extend(last);
            }
            sh.fail(e.to_string());
        }
        (Ok(()), Err(e)) => sh.fail(e.to_string()),
    }
}
