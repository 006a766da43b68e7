use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use txcr_capture::audio::{AudioSource, BlockSink};
use txcr_capture::FrameSource;
use txcr_core::{Packet, Timeline, VideoFrame};
use txcr_encode::{
    auto_bitrate, convert_into, thumbnail, AacEncoder, AudioEncoder, EncoderSettings, I420Frame,
    Thumbnail, VideoEncoder, X264Encoder,
};
use txcr_mux::{CutPlanner, FinishedSlice, Interleaver, SliceWriter};

use crate::audio::{audio_loop, AudioJob, AAC_BITRATE};
use crate::pacing::Pacer;
use crate::preview::PreviewSlot;
use crate::RecordError;

/// How long one stream may run ahead of the other before it is written anyway.
const INTERLEAVE_WAIT_MS: u64 = 1000;

/// Frames in flight between capture and encode. Two: one being encoded, one
/// waiting; a third would only add latency and memory. They travel as I420
/// (converted on the capture thread, so conversion and encoding run side by
/// side, and a 1080p frame in flight is 3 MB, not the 8 MB of BGRA).
const QUEUE: usize = 2;

/// Called on the encode thread with each slice once it is complete on disk
/// (duration patched, `fsync`ed): the hand-off to the upload queue.
#[derive(Clone)]
pub struct SliceHook(pub Arc<dyn Fn(&FinishedSlice) + Send + Sync>);

impl std::fmt::Debug for SliceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SliceHook")
    }
}

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
    /// x264 tune, if any.
    pub tune: Option<String>,
    /// Extra x264 options (`key=value:…`), if any.
    pub x264_params: Option<String>,
    /// Told about every finished slice.
    pub on_slice: Option<SliceHook>,
    /// Stop cleanly when the recording disk has less free space than this
    /// (checked at start and every second); 0 disables the guard.
    pub min_free_bytes: u64,
    /// End on its own after this much recorded time (paused time excluded):
    /// the recording covers `[0, limit)`, so no frame stamped at the limit
    /// opens a slice of its own. `None`: until stopped.
    pub limit: Option<Duration>,
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
            tune: None,
            x264_params: None,
            on_slice: None,
            min_free_bytes: 0,
            limit: None,
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
    /// Sound: `off`, `on: <device>`, `unavailable: <why>` (video only) or
    /// `failed: <why>` (stopped mid-recording, video goes on).
    pub audio: String,
    /// The recording ended because the disk was (nearly) full.
    pub disk_full: bool,
    /// Cursor and capture border, where the source decides them (Windows).
    pub look: Option<txcr_capture::Look>,
}

/// What a stopped recording left.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Final statistics; `slices` lists every file.
    pub stats: Stats,
}

#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) timeline: Timeline,
    /// When the capture thread takes its frames. A pause takes effect at the
    /// tick not yet taken, so the first frame after resume lands exactly one
    /// interval after the last frame before the pause: no gap, no short step.
    pacer: Pacer,
    pub(crate) stop: bool,
    /// A preview is wanted, at most this wide: the capture thread makes it
    /// from its next frame.
    preview: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) ctl: Mutex<Control>,
    wake: Condvar,
    /// When the recording started: sound captured earlier is not recorded.
    pub(crate) started: Instant,
    frames: AtomicU64,
    dropped: AtomicU64,
    pub(crate) audio_dropped: Arc<AtomicU64>,
    slices: Mutex<Vec<FinishedSlice>>,
    failure: Mutex<Option<String>>,
    pub(crate) audio: Mutex<String>,
    on_slice: Option<SliceHook>,
    disk_full: std::sync::atomic::AtomicBool,
    preview: PreviewSlot,
    look: Option<txcr_capture::Look>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking recorder thread must not take the API down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn slice_done(&self, done: FinishedSlice) {
        tracing::info!(path = %done.path.display(), ms = done.info.duration_ms(), "slice finished");
        if let Some(hook) = &self.on_slice {
            (hook.0)(&done);
        }
        lock(&self.slices).push(done);
    }

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
    /// Capture first: when it ends, the encoder drains; the audio thread last.
    threads: Vec<JoinHandle<()>>,
}

impl Recording {
    /// Open the encoders (video errors surface here, before anything runs) and
    /// start the capture, audio and encode threads. Sound is best effort: when
    /// `audio` cannot start, the recording is video only and [`Stats::audio`]
    /// says why.
    pub fn start(
        source: Box<dyn FrameSource>,
        audio: Option<Box<dyn AudioSource>>,
        spec: RecordingSpec,
    ) -> Result<Self, RecordError> {
        let (w, h) = source.size();
        let fps = spec.fps.max(1);
        let bitrate = spec.bitrate.unwrap_or_else(|| auto_bitrate(w, h, fps));
        let mut settings = EncoderSettings::new(w, h, fps, bitrate);
        settings.preset = spec.preset.clone();
        settings.tune = spec.tune.clone();
        settings.x264_params = spec.x264_params.clone();
        // Opened on a thread of lowered priority named `txcr-x264`: x264's
        // worker threads, started here, inherit both.
        let encoder = thread::scope(|s| {
            thread::Builder::new()
                .name("txcr-x264".into())
                .spawn_scoped(s, || {
                    lower_priority();
                    X264Encoder::new(&settings)
                })
                .map_err(|e| RecordError::Thread(e.to_string()))?
                .join()
                .map_err(|_| RecordError::Thread("the encoder panicked while opening".into()))
        })??;
        let disk = DiskGuard::new(&spec.dst, spec.min_free_bytes);
        disk.check()?;
        let now = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps));
        let mut timeline = Timeline::new(now);
        if let Some(limit) = spec.limit {
            timeline.set_end(limit);
        }
        let audio_dropped = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            ctl: Mutex::new(Control {
                timeline,
                pacer: Pacer::new(now, interval),
                stop: false,
                preview: None,
            }),
            wake: Condvar::new(),
            started: now,
            frames: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            audio_dropped: audio_dropped.clone(),
            slices: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            audio: Mutex::new("off".into()),
            on_slice: spec.on_slice.clone(),
            disk_full: std::sync::atomic::AtomicBool::new(false),
            preview: PreviewSlot::default(),
            look: source.look(),
        });
        let (audio_job, audio_rx) = match audio.map(|a| start_audio(a, &audio_dropped)) {
            Some(Ok((job, rx, what))) => {
                tracing::info!("recording sound from {what}");
                *lock(&shared.audio) = format!("on: {what}");
                (Some(job), Some(rx))
            }
            Some(Err(why)) => {
                tracing::warn!("no sound: {why}; recording video only");
                *lock(&shared.audio) = format!("unavailable: {why}");
                (None, None)
            }
            None => (None, None),
        };
        let writer = SliceWriter::new(
            &spec.dst,
            u64::from(spec.slice_secs) * 1000,
            encoder.config().clone(),
            audio_job.as_ref().map(|j| j.encoder.config().clone()),
        );
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| RecordError::Thread(e.to_string()))
        };
        let audio_thread = match audio_job {
            Some(job) => {
                let s = shared.clone();
                Some(spawn("txcr-audio", Box::new(move || audio_loop(&s, job)))?)
            }
            None => None,
        };
        let (tx, rx) = mpsc::sync_channel::<I420Frame>(QUEUE);
        let (back_tx, back_rx) = mpsc::channel::<I420Frame>();
        let slice_ms = u64::from(spec.slice_secs) * 1000;
        let s = shared.clone();
        let encode = spawn(
            "txcr-encode",
            Box::new(move || {
                encode_loop(
                    &s,
                    EncodeStage {
                        enc: Box::new(encoder),
                        writer,
                        slice_ms,
                        frames: rx,
                        recycle: back_tx,
                        audio: audio_rx,
                        disk,
                    },
                )
            }),
        )?;
        let s = shared.clone();
        let capture = spawn(
            "txcr-capture",
            Box::new(move || capture_loop(&s, source, tx, back_rx)),
        )?;
        Ok(Self {
            shared,
            threads: vec![capture, encode]
                .into_iter()
                .chain(audio_thread)
                .collect(),
        })
    }

    /// Stop the clock at the next frame not yet taken; no frames are taken
    /// until [`resume`](Self::resume).
    pub fn pause(&self) {
        let mut ctl = lock(&self.shared.ctl);
        let at = ctl.pacer.next();
        ctl.timeline.pause(at);
        drop(ctl);
        self.shared.wake.notify_all();
    }

    /// Restart the clock where it stopped: the next frame is stamped one
    /// interval after the last one.
    pub fn resume(&self) {
        let mut ctl = lock(&self.shared.ctl);
        if ctl.timeline.is_paused() {
            let now = Instant::now();
            ctl.timeline.resume(now);
            ctl.pacer.resume(now);
        }
        drop(ctl);
        self.shared.wake.notify_all();
    }

    /// A picture of what is being recorded, at most `max_width` pixels wide,
    /// made from the next frame captured (while paused, from one grabbed for
    /// it). Waits at most `timeout`.
    pub fn preview(&self, max_width: u32, timeout: Duration) -> Result<Thumbnail, RecordError> {
        let sh = &self.shared;
        sh.preview.clear();
        lock(&sh.ctl).preview = Some(max_width);
        sh.wake.notify_all();
        match sh.preview.wait(timeout) {
            Some(made) => made.map_err(RecordError::Preview),
            None => {
                lock(&sh.ctl).preview = None;
                Err(RecordError::Preview(format!(
                    "no picture was captured within {} ms",
                    timeout.as_millis()
                )))
            }
        }
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
            audio: lock(&sh.audio).clone(),
            disk_full: sh.disk_full.load(Ordering::Relaxed),
            look: sh.look,
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
        for h in self.threads.drain(..) {
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

/// Nice value of the capture and encode threads (and x264's): when the CPU is
/// short, the lesson's own programs and this service's API go first. A frame
/// that cannot be grabbed in time is counted as dropped, never queued up.
#[cfg(target_os = "linux")]
const RECORDING_NICE: i32 = 5;

/// Lower the calling thread's priority to [`RECORDING_NICE`] (Linux nice
/// values are per thread). Best effort: a refusal leaves it as it was.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) with a plain value.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, RECORDING_NICE);
    }
}

/// Grab and convert frames on a steady clock until stopped; hand them over
/// without ever waiting for the encoder.
fn capture_loop(
    sh: &Shared,
    mut source: Box<dyn FrameSource>,
    tx: SyncSender<I420Frame>,
    recycled: Receiver<I420Frame>,
) {
    lower_priority();
    let (w, h) = source.size();
    // For sources that cannot lend their picture: one BGRA frame, grabbed
    // into again and again (its pages are only touched if it is used).
    let mut grabbed = VideoFrame::new(w, h);
    // QUEUE in the channel, one in the encoder, one being converted.
    let mut spare: Vec<I420Frame> = (0..QUEUE + 2).map(|_| I420Frame::new(w, h)).collect();
    loop {
        // Wait for the next tick, or for pause/stop. The tick is stamped and
        // the schedule moved on under the lock, so a pause asked from now on
        // takes effect at the tick after this one.
        let mut ctl = lock(&sh.ctl);
        let (pts, preview) = loop {
            if ctl.stop {
                return;
            }
            let tick = ctl.pacer.next();
            if ctl.timeline.is_paused() {
                if let Some(max_width) = ctl.preview.take() {
                    let pts = ctl.timeline.media_time(Instant::now());
                    drop(ctl);
                    paused_preview(
                        sh,
                        source.as_mut(),
                        &mut grabbed,
                        &mut spare,
                        pts,
                        max_width,
                    );
                    ctl = lock(&sh.ctl);
                    continue;
                }
                ctl = sh.wake.wait(ctl).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let now = Instant::now();
            if now >= tick && ctl.timeline.has_ended_at(tick) {
                // The limit is reached (the last frame has had its time):
                // end as a stop would.
                ctl.stop = true;
                drop(ctl);
                sh.wake.notify_all();
                return;
            }
            if now >= tick {
                let missed = ctl.pacer.take(now);
                sh.dropped.fetch_add(missed, Ordering::Relaxed);
                break (ctl.timeline.media_time(tick), ctl.preview.take());
            }
            ctl = sh
                .wake
                .wait_timeout(ctl, tick - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(ctl);

        spare.extend(recycled.try_iter());
        let Some(mut frame) = spare.pop() else {
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            // The preview waits for the next frame taken.
            if preview.is_some() {
                lock(&sh.ctl).preview = preview;
            }
            continue;
        };
        grabbed.pts = pts;
        if let Err(e) = grab_into(source.as_mut(), &mut grabbed, &mut frame) {
            sh.fail(format!("capture: {e}"));
            return;
        }
        frame.pts = pts;
        if let Some(max_width) = preview {
            sh.preview
                .publish(thumbnail(&frame, max_width).map_err(|e| e.to_string()));
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
}

/// While paused: grab one picture just for a preview, recording nothing.
fn paused_preview(
    sh: &Shared,
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    spare: &mut Vec<I420Frame>,
    pts: Duration,
    max_width: u32,
) {
    let (w, h) = source.size();
    let mut frame = spare.pop().unwrap_or_else(|| I420Frame::new(w, h));
    frame.pts = pts;
    let made = grab_into(source, grabbed, &mut frame)
        .and_then(|()| thumbnail(&frame, max_width).map_err(|e| e.to_string()));
    sh.preview.publish(made);
    spare.push(frame);
}

/// Grab the source's picture and convert it into `frame`: straight from what
/// the source lends (X11: its shared memory), else from `grabbed`. With no
/// new picture, `frame` keeps what it showed (a minimised window keeps its
/// last look).
fn grab_into(
    source: &mut dyn FrameSource,
    grabbed: &mut VideoFrame,
    frame: &mut I420Frame,
) -> Result<(), String> {
    let mut converted = Ok(());
    source
        .grab_view(grabbed, &mut |view| {
            converted = convert_into(view, frame);
        })
        .map_err(|e| e.to_string())?;
    converted.map_err(|e| e.to_string())
}

/// Open the AAC encoder for the source's format and start the source.
fn start_audio(
    mut source: Box<dyn AudioSource>,
    dropped: &Arc<AtomicU64>,
) -> Result<(AudioJob, Receiver<Packet>, String), String> {
    let format = source.format();
    let channels = format.channels.clamp(1, 2);
    let encoder =
        AacEncoder::new(format.sample_rate, channels, AAC_BITRATE).map_err(|e| e.to_string())?;
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

/// What the encode thread works with.
struct EncodeStage {
    enc: Box<dyn VideoEncoder>,
    writer: SliceWriter,
    slice_ms: u64,
    /// Captured frames in.
    frames: Receiver<I420Frame>,
    /// Frame buffers back to the capture thread.
    recycle: mpsc::Sender<I420Frame>,
    /// AAC packets from the audio thread, when there is sound.
    audio: Option<Receiver<Packet>>,
    disk: DiskGuard,
}

fn encode_loop(sh: &Shared, stage: EncodeStage) {
    lower_priority();
    let EncodeStage {
        mut enc,
        mut writer,
        slice_ms,
        frames: rx,
        recycle: back,
        audio,
        disk,
    } = stage;
    let mut planner = CutPlanner::new(slice_ms);
    let mut packets = Vec::new();
    let mut il = Interleaver::new(audio.is_some(), INTERLEAVE_WAIT_MS);
    let mut corrected = 0;
    let mut write = |p: Packet, writer: &mut SliceWriter| -> Result<(), RecordError> {
        if p.kind == txcr_core::MediaKind::Video {
            sh.frames.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(done) = writer.write(&p)? {
            sh.slice_done(done);
        }
        if writer.corrected() > corrected {
            corrected = writer.corrected();
            tracing::warn!(
                corrected,
                ?p.kind,
                ms = p.dts_ms,
                "a timestamp did not increase and was moved 1 ms after the previous one"
            );
        }
        Ok(())
    };
    // Take whatever audio is ready; note when the audio thread has gone.
    let take_audio = |il: &mut Interleaver, block: bool| {
        let Some(a) = &audio else { return };
        loop {
            let next = if block {
                a.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                a.try_recv()
            };
            match next {
                Ok(p) => il.push(p),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    il.close_audio();
                    return;
                }
            }
        }
    };
    let mut next_disk_check = Duration::ZERO;
    let mut run = || -> Result<(), RecordError> {
        for frame in rx.iter() {
            if frame.pts >= next_disk_check {
                disk.check()?;
                next_disk_check = frame.pts + Duration::from_secs(1);
            }
            let force = planner.force_keyframe(frame.pts.as_millis() as u64);
            let r = enc.encode_i420(&frame, force, &mut packets);
            let _ = back.send(frame);
            r?;
            packets.drain(..).for_each(|p| il.push(p));
            take_audio(&mut il, false);
            while let Some(p) = il.pop() {
                write(p, &mut writer)?;
            }
        }
        enc.flush(&mut packets)?;
        packets.drain(..).for_each(|p| il.push(p));
        take_audio(&mut il, true); // until the audio thread has drained its encoder
        for p in il.drain() {
            write(p, &mut writer)?;
        }
        Ok(())
    };
    let result = run();
    // Finish the last slice whatever happened, so what was written stays playable.
    drop(rx);
    let finished = writer.finish();
    match (result, finished) {
        (Ok(()), Ok(last)) => last.into_iter().for_each(|d| sh.slice_done(d)),
        (Err(e), last) => {
            if let Ok(Some(last)) = last {
                sh.slice_done(last);
            }
            sh.disk_full.store(e.is_disk_full(), Ordering::Relaxed);
            sh.fail(e.to_string());
        }
        (Ok(()), Err(e)) => {
            let e = RecordError::from(e);
            sh.disk_full.store(e.is_disk_full(), Ordering::Relaxed);
            sh.fail(e.to_string());
        }
    }
}

/// Free-space guard on the recording's directory.
#[derive(Debug)]
struct DiskGuard {
    dir: std::path::PathBuf,
    min: u64,
}

impl DiskGuard {
    fn new(dst: &std::path::Path, min: u64) -> Self {
        let dir = dst
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        Self { dir, min }
    }

    fn check(&self) -> Result<(), RecordError> {
        if self.min == 0 {
            return Ok(());
        }
        match fs4::available_space(&self.dir) {
            Ok(free) if free < self.min => Err(RecordError::DiskFull {
                free_mb: free >> 20,
                min_mb: self.min >> 20,
            }),
            _ => Ok(()),
        }
    }
}
